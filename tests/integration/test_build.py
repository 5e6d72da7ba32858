"""ImageBuilder against the real Docker engine (FROM scratch / the busybox test image).

Every image is tagged under a per-session repository prefix, labelled ``loopdev-test=1``,
and removed at the end of the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from loopdev.adapters.docker import DockerAdapter
from loopdev.build.builder import ImageBuilder
from loopdev.build.delivery_impl import SharedDaemon
from loopdev.build.digest import compute_digests
from loopdev.config.model import BuildSettings
from loopdev.errors import BuildError
from tests.support.images import ensure_busybox_image
from tests.unit.build.conftest import make_loopfile
from tests.unit.build.conftest import write as write_file

pytestmark = pytest.mark.docker

PREFIX = f"loopdev-it-{uuid.uuid4().hex[:8]}"
LABELS = {"loopdev-test": "1"}
LAYERS: list[str] = []  # intermediate images our builds made (a failed build leaves some)


def _remove_test_builds(c: docker.DockerClient) -> None:
    """Remove every image these tests tagged, this run's and any interrupted run's.

    A leftover image keeps its layers in the classic builder's cache, and a cached RUN step
    prints nothing: tests that read a step's output would then fail on a second run.
    """
    for image in c.images.list(filters={"label": "loopdev-test=1"}):
        if image.tags and all(t.startswith("loopdev-it-") for t in image.tags):
            for tag in image.tags:
                with contextlib.suppress(docker.errors.APIError):
                    c.images.remove(tag, force=True)


@pytest.fixture(scope="session")
def client() -> Iterator[docker.DockerClient]:
    c = docker.from_env()  # scripts/test guarantees an engine: fail loudly, never skip
    c.ping()
    _remove_test_builds(c)
    yield c
    _remove_test_builds(c)
    for layer in reversed(LAYERS):  # children first; still-shared layers refuse: fine
        with contextlib.suppress(docker.errors.APIError):
            c.images.remove(layer)
    c.close()


@pytest.fixture(scope="session")
def busybox(client: docker.DockerClient) -> str:
    return ensure_busybox_image(client)


@pytest.fixture
def cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("LOOPDEV_CACHE_DIR", str(root))
    return root


BUILDERS = ["classic", "buildkit"]
_BUILDKIT_OUTPUT = re.compile(r"^#\d+ \d+\.\d+ ")  # "#7 0.412 " before a step's output


@pytest.fixture(params=BUILDERS)
def builder(request: pytest.FixtureRequest) -> str:
    """Each test runs with both builders: BuildKit (docker CLI) and the classic SDK one."""
    return str(request.param)


class Run:
    """A builder over a temp project plus everything it logged (step output unprefixed)."""

    def __init__(
        self, root: Path, images: dict[str, dict], adapter: DockerAdapter, builder: str
    ) -> None:
        config = make_loopfile(root, images)
        self.config = dataclasses.replace(config, build=BuildSettings(builder=builder))  # type: ignore[arg-type]
        self.adapter = adapter
        self.lines: dict[str, list[str]] = {}
        self.builder = ImageBuilder(
            self.config, adapter, SharedDaemon(adapter), self.log, labels=LABELS
        )

    def log(self, image: str, line: str) -> None:
        self.lines.setdefault(image, []).append(_BUILDKIT_OUTPUT.sub("", line))
        step = re.fullmatch(r" ---> ([0-9a-f]{12})", line)
        if step:
            LAYERS.append(step.group(1))


@pytest.fixture
def project(tmp_path: Path, cache_dir: Path, client: docker.DockerClient) -> Path:
    (tmp_path / ".git").mkdir()
    return tmp_path


def write(path: Path, text: str) -> Path:
    """Dockerfiles get this session's ENV after each FROM: BuildKit keeps its own step
    cache (removing images does not clear it), and a cached step prints nothing."""
    if path.name.endswith("Dockerfile"):
        lines = text.splitlines()
        stamp = f"ENV LOOPDEV_TEST_SESSION={PREFIX}"
        text = "\n".join(
            x for ln in lines for x in ([ln, stamp] if ln.startswith("FROM ") else [ln])
        )
        text += "\n"
    return write_file(path, text)


def name(short: str, builder: str = "classic") -> str:
    """Per builder: the same content under both builders must not reuse the other's tag."""
    return f"{PREFIX}/{short}" if builder == "classic" else f"{PREFIX}/{short}-{builder}"


async def make_run(root: Path, images: dict[str, dict], builder: str = "classic") -> Run:
    return Run(root, images, await DockerAdapter.connect(), builder)


def age(path: Path) -> None:
    """Backdate a file so the digest cache may keep it (fresh files are never cached)."""
    old = 1_600_000_000_000_000_000
    os.utime(path, ns=(old, old))


async def test_unchanged_context_makes_no_build_call(project: Path, builder: str) -> None:
    api = name("api", builder)
    write(project / "api/Dockerfile", "FROM scratch\nCOPY . /app\n")
    write(project / "api/.dockerignore", "*.log\n")
    write(project / "api/main.txt", "one")
    write(project / "api/debug.log", "x")
    run = await make_run(project, {api: {"context": "api"}}, builder)

    first = (await run.builder.build())[api]
    assert not first.reused and run.adapter.build_calls == 1
    done = "Successfully tagged" if builder == "classic" else f"naming to docker.io/{first.ref}"
    assert any(done in ln for ln in run.lines[api])

    second = (await run.builder.build())[api]
    assert second.reused and second.ref == first.ref and run.adapter.build_calls == 1

    write(project / "api/debug.log", "ignored change")
    third = (await run.builder.build())[api]
    assert third.reused and third.ref == first.ref and run.adapter.build_calls == 1

    write(project / "api/main.txt", "two")
    fourth = (await run.builder.build())[api]
    assert not fourth.reused and fourth.ref != first.ref and run.adapter.build_calls == 2
    assert await run.adapter.image_exists(fourth.ref)


DOCKERIGNORE = """\
# comments and blank lines are skipped

**/*.log
!keep/**/*.log
docs
!docs/README.md
/top.txt
tmp*
node_modules
"""
FILES = [
    "a.txt",
    "top.txt",
    "sub/top.txt",
    "x.log",
    "sub/deep/y.log",
    "keep/a/b/z.log",
    "keep/plain.txt",
    "docs/guide.md",
    "docs/README.md",
    "tmpfile",
    "tmpdir/inner.txt",
    "node_modules/m/index.js",
    "src/app.py",
    "src/secret.key",
]


async def test_files_reaching_the_daemon_are_exactly_our_set(
    project: Path, busybox: str, builder: str
) -> None:
    api = name("ctx", builder)
    df = (
        f"FROM {busybox}\nCOPY . /ctx\nRUN cd /ctx && find . -type f -o -type l | sed 's/^/CTX:/'\n"
    )
    write(project / "c/Dockerfile", df)
    write(project / "c/.dockerignore", DOCKERIGNORE)
    for rel in FILES:
        write(project / "c" / rel, rel)
    os.symlink("a.txt", project / "c/link.txt")
    run = await make_run(project, {api: {"context": "c", "ignore": ["src/*.key"]}}, builder)

    digests = await asyncio.to_thread(compute_digests, run.config)
    ours = {e.path for e in digests[api].inputs.entries if e.kind in ("f", "l")}
    await run.builder.build()
    seen = {ln[len("CTX:./") :] for ln in run.lines[api] if ln.startswith("CTX:./")}

    expected = {
        "Dockerfile", ".dockerignore", "a.txt", "sub/top.txt", "keep/a/b/z.log",
        "keep/plain.txt", "docs/README.md", "src/app.py", "link.txt",
    }  # fmt: skip
    assert ours == expected
    assert seen == ours


async def test_ignored_dockerfile_is_sent_but_removed_by_the_daemon(
    project: Path, busybox: str, builder: str
) -> None:
    api = name("ign", builder)
    df = f"FROM {busybox}\nCOPY . /ctx\nRUN cd /ctx && find . -type f | sed 's/^/CTX:/'\n"
    write(project / "d/Dockerfile", df)
    write(project / "d/.dockerignore", "Dockerfile\n.dockerignore\n")
    write(project / "d/app.txt", "x")
    run = await make_run(project, {api: {"context": "d"}}, builder)
    digests = await asyncio.to_thread(compute_digests, run.config)
    ours = {e.path for e in digests[api].inputs.entries if e.kind == "f"}
    await run.builder.build()
    seen = {ln[len("CTX:./") :] for ln in run.lines[api] if ln.startswith("CTX:./")}
    assert ours == {"Dockerfile", ".dockerignore", "app.txt"}  # sent (and hashed) ...
    assert seen == {"app.txt"}  # ... but the daemon drops them before COPY, as docker does


async def test_from_another_loopfile_image_builds_after_it(
    project: Path, busybox: str, builder: str
) -> None:
    base, app = name("base", builder), name("app", builder)
    write(project / "base/Dockerfile", f"FROM {busybox}\nCOPY lib.txt /lib.txt\n")
    write(project / "base/lib.txt", "v1")
    write(
        project / "app/Dockerfile", f"ARG BASE={base}\nFROM ${{BASE}}\nRUN cat /lib.txt && echo\n"
    )
    images = {base: {"context": "base"}, app: {"context": "app"}}
    run = await make_run(project, images, builder)

    first = await run.builder.build([app])
    assert set(first) == {base, app} and run.adapter.build_calls == 2
    assert "v1" in run.lines[app]

    write(project / "base/lib.txt", "v2")
    second = await run.builder.build([app])
    assert second[base].ref != first[base].ref and second[app].ref != first[app].ref
    assert "v2" in run.lines[app] and run.adapter.build_calls == 4


async def test_failure_names_the_step_and_its_output(
    project: Path, busybox: str, builder: str
) -> None:
    api = name("bad", builder)
    write(project / "b/Dockerfile", f"FROM {busybox}\nRUN echo ok\nRUN echo boom && false\n")
    run = await make_run(project, {api: {"context": "b", "build_args": {"UNUSED": "1"}}}, builder)
    with pytest.raises(BuildError) as info:
        await run.builder.build()
    text = info.value.message
    step, code = ("Step 4/", "non-zero code: 1") if builder == "classic" else ("[3/3]", "code: 1")
    assert f"image {api}: build failed at {step}" in text
    assert "RUN echo boom && false" in text and "  | boom" in text and code in text


async def test_newer_request_cancels_the_running_build(
    project: Path, busybox: str, builder: str
) -> None:
    api = name("slow", builder)
    write(project / "s/Dockerfile", f"FROM {busybox}\nCOPY v.txt /\nRUN sleep 60\n")
    write(project / "s/v.txt", "1")
    run = await make_run(project, {api: {"context": "s"}}, builder)
    slow = asyncio.create_task(run.builder.build())
    for _ in range(200):
        if any("RUN sleep 60" in ln for ln in run.lines.get(api, [])):
            break
        await asyncio.sleep(0.05)
    write(project / "s/Dockerfile", f"FROM {busybox}\nCOPY v.txt /\n")
    loop = asyncio.get_running_loop()
    started = loop.time()
    newer = await asyncio.wait_for(run.builder.build(), 30)
    older = await asyncio.wait_for(slow, 5)
    assert loop.time() - started < 20  # the sleep 60 build did not run to the end
    assert older[api].ref == newer[api].ref  # the older caller got the newer result
    assert not newer[api].reused and run.adapter.build_calls == 2
    assert "build superseded by a newer change" in run.lines[api]


async def test_old_tags_are_removed_from_the_engine(
    project: Path, client: docker.DockerClient, builder: str
) -> None:
    api = name("prune", builder)
    write(project / "p/Dockerfile", "FROM scratch\nCOPY . /app\n")
    run = await make_run(project, {api: {"context": "p"}}, builder)
    run.builder.keep_tags = 1
    run.builder.prune_after = 0  # the tags are seconds old: prune them anyway
    refs = []
    for i in range(3):
        write(project / "p/v.txt", str(i))
        refs.append((await run.builder.build())[api].ref)
        await run.builder.drain()
    left = {t for img in client.images.list(name=api) for t in img.tags}
    assert left == {refs[-1]}
    assert any(line == f"removed old image {refs[0]}" for line in run.lines[api])


async def test_dockerfile_outside_the_context(project: Path, busybox: str, builder: str) -> None:
    api = name("outside-df", builder)
    df = f"FROM {busybox}\nCOPY . /ctx\nRUN cd /ctx && find . -type f | sed 's/^/CTX:/'\n"
    write(project / "docker/api.Dockerfile", df)
    write(project / "src/app.txt", "x")
    write(project / "src/.dockerignore", "*.log\n")
    write(project / "src/debug.log", "x")
    run = await make_run(
        project, {api: {"context": "src", "dockerfile": "../docker/api.Dockerfile"}}, builder
    )
    assert (await run.builder.build())[api].ref.startswith(f"{api}:loopdev-")
    seen = {ln[len("CTX:./") :] for ln in run.lines[api] if ln.startswith("CTX:./")}
    assert seen == {"app.txt", ".dockerignore"}  # our Dockerfile copy never lands in the image


async def test_build_args_and_target_reach_the_build(
    project: Path, busybox: str, builder: str
) -> None:
    api = name("target", builder)
    df = (
        f'FROM {busybox} AS dev\nARG GREETING=nobody\nRUN echo "hello $GREETING"\n'
        "FROM dev AS prod\nRUN echo prod-stage-ran\n"
    )
    write(project / "t/Dockerfile", df)
    spec = {"context": "t", "build_args": {"GREETING": "world"}, "target": "dev"}
    run = await make_run(project, {api: spec}, builder)
    await run.builder.build()
    assert "hello world" in run.lines[api]
    assert not any("prod-stage-ran" in ln for ln in run.lines[api])


async def test_our_context_set_equals_what_the_docker_cli_sends(
    project: Path, busybox: str, client: docker.DockerClient
) -> None:
    """The oracle is Docker itself: ``docker build`` (CLI, legacy builder) on the same tree."""
    df = (
        f"FROM {busybox}\nCOPY . /ctx\nRUN cd /ctx && find . -type f -o -type l | sed 's/^/CTX:/'\n"
    )
    ctx = project / "o"
    write(ctx / "Dockerfile", df)
    write(ctx / ".dockerignore", DOCKERIGNORE + "README*\n!README.md\n")
    for rel in [*FILES, "README.md", "README.txt", "Readme.txt", "DOCS/x.md"]:
        write(ctx / rel, rel)
    os.symlink("a.txt", ctx / "link.txt")
    proc = await asyncio.create_subprocess_exec(
        "docker", "build", "--no-cache", "--rm", "--label", "loopdev-test=1", str(ctx),
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out = (await proc.communicate())[0].decode()
    assert proc.returncode == 0, out
    docker_set = {ln[len("CTX:./") :] for ln in out.splitlines() if ln.startswith("CTX:./")}
    built = re.search(r"Successfully built (\w+)", out)
    if built:
        client.images.remove(built.group(1), force=True)
    run = await make_run(project, {name("oracle"): {"context": "o"}})
    digests = await asyncio.to_thread(compute_digests, run.config)
    ours = {e.path for e in digests[name("oracle")].inputs.entries if e.kind in ("f", "l")}
    assert "Readme.txt" in ours and "DOCS/x.md" in ours  # Docker matches case-sensitively
    assert ours == docker_set
