"""ImageBuilder scheduling with a fake Docker adapter: order, parallel limit, skips, supersede."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from loopdev.adapters.docker import BuildRequest
from loopdev.adapters.docker_cli import BuildkitCli, CliProbe
from loopdev.build.builder import REWRITTEN_DOCKERFILE, BuildFailed, ImageBuilder, prunable_tags
from loopdev.build.delivery_impl import SharedDaemon
from loopdev.config.model import BuildSecret, BuildSettings
from loopdev.errors import BuildError
from tests.unit.build.conftest import make_loopfile, write


class FakeDocker:
    """Records builds; a build takes ``delay`` s (or waits on ``gate``) and then 'exists'."""

    def __init__(self, delay: float = 0.05) -> None:
        self.delay = delay
        self.images: set[str] = set()
        self.requests: list[BuildRequest] = []
        self.active = 0
        self.peak = 0
        self.order: list[str] = []
        self.gate: asyncio.Event | None = None
        self.fail: set[str] = set()
        self.created: dict[str, int] = {}
        self.in_use: set[str] = set()

    async def tags_of(self, repository: str) -> list[tuple[str, int]]:
        return [(t, c) for t, c in self.created.items() if t.rpartition(":")[0] == repository]

    async def remove_tag(self, ref: str) -> bool:
        if ref in self.in_use:
            return False
        self.images.discard(ref)
        del self.created[ref]
        return True

    @property
    def build_calls(self) -> int:
        return len(self.requests)

    async def image_exists(self, ref: str) -> bool:
        return ref in self.images

    async def build(self, req: BuildRequest, on_line) -> str:  # type: ignore[no-untyped-def]
        self.requests.append(req)
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            on_line(f"Step 1/1 : {req.tag}")
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(self.delay)
            if req.tag.split(":")[0] in self.fail:
                raise BuildError("build failed at Step 1/1 : RUN false: exit 1")
            self.images.add(req.tag)
            self.created[req.tag] = len(self.created)
            self.order.append(req.tag.split(":")[0])
            return "sha256:x"
        finally:
            self.active -= 1


def project(root: Path, names: list[str], bases: dict[str, str] | None = None, parallel: int = 2):
    (root / ".git").mkdir(exist_ok=True)
    specs = {}
    for n in names:
        base = (bases or {}).get(n)
        write(root / n / "Dockerfile", f"FROM {base or 'scratch'}\nCOPY . /\n")
        write(root / n / "f.txt", n)
        specs[n] = {}
    config = make_loopfile(root, specs)
    return dataclasses.replace(config, build=BuildSettings(parallel=parallel))


def builder(config, docker: FakeDocker, log: list | None = None) -> ImageBuilder:  # type: ignore[no-untyped-def]
    sink = (lambda i, line: log.append((i, line))) if log is not None else (lambda *_: None)
    return ImageBuilder(config, docker, SharedDaemon(docker), sink)


async def test_parallel_limit_and_dependency_order(tmp_path: Path) -> None:
    config = project(tmp_path, ["a", "b", "c", "d", "app"], {"app": "a"}, parallel=2)
    docker = FakeDocker()
    results = await builder(config, docker).build()
    assert docker.peak == 2 and docker.build_calls == 5
    assert docker.order.index("a") < docker.order.index("app")
    assert not any(r.reused for r in results.values())
    app_req = next(r for r in docker.requests if r.tag.startswith("app:"))
    assert app_req.dockerfile == REWRITTEN_DOCKERFILE
    text = dict(app_req.extra_files)[REWRITTEN_DOCKERFILE]
    assert text.startswith(f"FROM {results['a'].ref}\n")
    assert dict(app_req.extra_files)[".dockerignore"] == f".dockerignore\n{REWRITTEN_DOCKERFILE}"


async def test_present_images_are_skipped_and_force_rebuilds(tmp_path: Path) -> None:
    config = project(tmp_path, ["a", "b"])
    docker = FakeDocker()
    b = builder(config, docker)
    await b.build()
    again = await b.build()
    assert docker.build_calls == 2 and all(r.reused for r in again.values())
    forced = await b.build(["a"], force=True)
    assert docker.build_calls == 3 and not forced["a"].reused


async def test_failure_stops_dependents_and_reports_the_base(tmp_path: Path) -> None:
    config = project(tmp_path, ["a", "app", "other"], {"app": "a"})
    docker = FakeDocker()
    docker.fail = {"a"}
    with pytest.raises(BuildFailed, match="^image a: build failed at Step 1/1") as info:
        await builder(config, docker).build()
    assert "app" not in docker.order and "other" in docker.order
    assert set(info.value.failures) == {"a", "app"} and set(info.value.results) == {"other"}
    assert "not built because a failed" in info.value.failures["app"].message


async def test_newer_request_supersedes_running_build(tmp_path: Path) -> None:
    config = project(tmp_path, ["a"])
    docker = FakeDocker()
    docker.gate = asyncio.Event()
    log: list = []
    b = builder(config, docker, log)
    first = asyncio.create_task(b.build())
    while docker.active == 0:
        await asyncio.sleep(0.01)
    write(tmp_path / "a/f.txt", "changed")
    newer = asyncio.create_task(b.build())
    while docker.build_calls < 2:  # the newer build started: the older one was cancelled
        await asyncio.sleep(0.01)
    docker.gate.set()
    second = await newer
    older = await first
    assert older["a"].ref == second["a"].ref  # the old caller gets the newest result
    assert docker.order == ["a"]  # the first build never finished
    assert ("a", "build superseded by a newer change") in log


class SlowToStopDocker(FakeDocker):
    """A build whose cancellation takes a while to clean up (the BuildKit CLI process is
    killed and reaped in a worker thread): the newer build can be done before it is."""

    def __init__(self) -> None:
        super().__init__(delay=0)
        self.first = True

    async def build(self, req: BuildRequest, on_line) -> str:  # type: ignore[no-untyped-def]
        if not self.first:
            return await super().build(req, on_line)
        self.first = False
        self.requests.append(req)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.shield(asyncio.sleep(0.3))  # reaping the killed process
            raise
        raise AssertionError("never finishes")


async def test_a_superseded_build_slow_to_stop_still_gets_the_newer_result(
    tmp_path: Path,
) -> None:
    """Caught in a loaded CI run: the older caller got CancelledError, because the newer
    build had finished (and left the running table) before the older one finished stopping."""
    config = project(tmp_path, ["a"])
    docker = SlowToStopDocker()
    log: list = []
    b = builder(config, docker, log)
    first = asyncio.create_task(b.build())
    while docker.build_calls == 0:
        await asyncio.sleep(0.01)
    write(tmp_path / "a/f.txt", "changed")
    second = await b.build()  # done while the first is still stopping
    older = await first
    assert older["a"].ref == second["a"].ref
    assert ("a", "build superseded by a newer change") in log


async def test_cancelling_the_superseded_caller_keeps_the_newer_build(tmp_path: Path) -> None:
    """The older caller waits on the newer build; giving up on it must not cancel that build
    (it belongs to the newer caller)."""
    config = project(tmp_path, ["a"])
    docker = FakeDocker()
    docker.gate = asyncio.Event()
    log: list = []
    b = builder(config, docker, log)
    first = asyncio.create_task(b.build())
    while docker.active == 0:
        await asyncio.sleep(0.01)
    write(tmp_path / "a/f.txt", "changed")
    newer = asyncio.create_task(b.build())
    while ("a", "build superseded by a newer change") not in log:
        await asyncio.sleep(0.01)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    docker.gate.set()
    second = await newer
    assert not second["a"].reused and docker.order == ["a"]


async def test_build_lines_reach_on_log(tmp_path: Path) -> None:
    config = project(tmp_path, ["a"])
    log: list = []
    await builder(config, FakeDocker(), log).build()
    assert log[0][0] == "a" and log[0][1].startswith("building a:loopdev-")
    assert log[1][1].startswith("Step 1/1")


async def test_request_for_content_already_building_joins_it(tmp_path: Path) -> None:
    config = project(tmp_path, ["a"])
    docker = FakeDocker()
    docker.gate = asyncio.Event()
    b = builder(config, docker)
    first = asyncio.create_task(b.build())
    while docker.active == 0:
        await asyncio.sleep(0.01)
    (tmp_path / "a/f.txt").write_text("a")  # rewritten with the same content: same digest
    second = asyncio.create_task(b.build())
    await asyncio.sleep(0.1)
    docker.gate.set()
    one, two = await first, await second
    assert docker.build_calls == 1 and one["a"] == two["a"] and not two["a"].reused


async def test_cancelling_a_joined_caller_keeps_the_build(tmp_path: Path) -> None:
    config = project(tmp_path, ["a"])
    docker = FakeDocker()
    docker.gate = asyncio.Event()
    b = builder(config, docker)
    first = asyncio.create_task(b.build())
    while docker.active == 0:
        await asyncio.sleep(0.01)
    second = asyncio.create_task(b.build())
    await asyncio.sleep(0.1)
    second.cancel()
    docker.gate.set()
    assert not (await first)["a"].reused and docker.build_calls == 1
    assert second.cancelled()


async def test_older_tags_are_pruned_except_in_use(tmp_path: Path) -> None:
    config = project(tmp_path, ["a"])
    docker = FakeDocker(delay=0)
    docker.created["a:keepme"] = -1  # not a loopdev tag: never touched
    b = ImageBuilder(
        config, docker, SharedDaemon(docker), lambda *_: None, keep_tags=2, prune_after=0
    )
    refs = []
    for i in range(4):
        (tmp_path / "a/f.txt").write_text(str(i))
        refs.append((await b.build())["a"].ref)
        await b.drain()
        if i == 0:
            docker.in_use.add(refs[0])  # a container still runs the first image
    assert set(docker.created) == {"a:keepme", refs[0], refs[2], refs[3]}


class BuildkitDocker(FakeDocker):
    """A FakeDocker whose machine has (or lacks) a BuildKit-capable docker CLI."""

    def __init__(self, cli: BuildkitCli | None) -> None:
        super().__init__(delay=0)
        self.probe = CliProbe(cli, () if cli else ("/usr/local/bin/docker: CLI 28.2.2 ...",))

    async def buildkit_cli(self) -> CliProbe:
        return self.probe


CLI = BuildkitCli("/usr/bin/docker", "builtin", "20.10.24")


async def test_buildkit_requests_carry_the_dockerfile_ignores_and_secrets(tmp_path: Path) -> None:
    config = project(tmp_path, ["a", "app"], {"app": "a"})
    write(tmp_path / "app/.dockerignore", "*.log\n")
    secret = BuildSecret("tok", env="TOKEN")
    app = dataclasses.replace(config.images["app"], secrets=(secret,), ssh=("default",))
    config = dataclasses.replace(config, images={**config.images, "app": app})
    docker = BuildkitDocker(CLI)
    results = await builder(config, docker).build()
    req = next(r for r in docker.requests if r.tag.startswith("app:"))
    assert req.builder == "buildkit" and req.cli == CLI
    assert req.dockerfile_text == f"FROM {results['a'].ref}\nCOPY . /\n"  # FROM rewritten
    assert req.ignore == ("*.log",)
    assert req.secrets == ("id=tok,env=TOKEN",) and req.ssh == ("default",)


async def test_a_cache_mount_without_buildkit_fails_naming_the_line(tmp_path: Path) -> None:
    config = project(tmp_path, ["a", "b"])
    write(tmp_path / "a/Dockerfile", "FROM scratch\nRUN --mount=type=cache,target=/c true\n")
    docker = BuildkitDocker(None)
    with pytest.raises(BuildFailed) as info:
        await builder(config, docker).build()
    assert info.value.message.startswith(
        f"image a: {tmp_path}/a/Dockerfile:2: RUN --mount needs BuildKit, and no docker CLI "
        "here can build with it (tried /usr/local/bin/docker: CLI 28.2.2 ...)"
    )
    assert set(info.value.failures) == {"a"} and set(info.value.results) == {"b"}
    assert [r.builder for r in docker.requests] == ["classic"]  # b: the fallback builder


def test_only_old_enough_loopdev_tags_beyond_the_newest_are_pruned() -> None:
    """Caught when two suites shared one engine: a second session's build pruned the tag a
    first session had just built and was about to run (ErrImagePull there)."""
    tags = [
        ("a:loopdev-1", 100),
        ("a:loopdev-2", 200),
        ("a:loopdev-3", 900),  # built a moment ago, by whichever session
        ("a:loopdev-4", 950),
        ("a:mine", 0),  # not loopdev's: never touched
    ]
    assert prunable_tags(tags, "a:loopdev-4", 2, 1000.0, 0) == ["a:loopdev-2", "a:loopdev-1"]
    assert prunable_tags(tags, "a:loopdev-4", 2, 1000.0, 300) == ["a:loopdev-2", "a:loopdev-1"]
    assert prunable_tags(tags, "a:loopdev-4", 1, 1000.0, 300) == ["a:loopdev-2", "a:loopdev-1"]
    assert prunable_tags(tags, "a:loopdev-4", 1, 1000.0, 0) == [
        "a:loopdev-3",
        "a:loopdev-2",
        "a:loopdev-1",
    ]
    assert prunable_tags(tags, "a:loopdev-4", 2, 1000.0, 5000) == []
