"""BuildKit builds through the docker CLI, and custom build commands, on the real engine.

BuildKit here is Debian's docker.io CLI (/usr/bin/docker 20.10, BuildKit built in) or any
CLI with buildx; nothing is pulled (bases are the locally built test images).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from loopdev.adapters.docker import DockerAdapter
from loopdev.adapters.docker_cli import DEBIAN_CLI, find_buildkit_cli
from loopdev.build.builder import BuildFailed, ImageBuilder
from loopdev.build.delivery_impl import SharedDaemon
from loopdev.config.model import BuildSecret, BuildSettings, CustomBuild, Loopfile
from tests.support.images import ensure_busybox_image
from tests.unit.build.conftest import make_loopfile, write

pytestmark = pytest.mark.docker

PREFIX = f"loopdev-it-bk-{uuid.uuid4().hex[:8]}"
LABELS = {"loopdev-test": "1"}


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    c = docker.from_env()
    yield c
    for image in c.images.list(filters={"label": "loopdev-test=1"}):
        for tag in image.tags:
            if tag.startswith(PREFIX):
                with contextlib.suppress(docker.errors.APIError):
                    c.images.remove(tag, force=True)
    c.close()


@pytest.fixture(scope="module")
def busybox(client: docker.DockerClient) -> str:
    return ensure_busybox_image(client)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    return tmp_path


def _builder(config: Loopfile, adapter: DockerAdapter, lines: list[str]) -> ImageBuilder:
    sink = lambda _image, line: lines.append(line)  # noqa: E731
    return ImageBuilder(config, adapter, SharedDaemon(adapter), sink, labels=LABELS, keep_tags=0)


def _output(lines: list[str]) -> list[str]:
    """A BuildKit step's output without the ``#7 0.412 `` prefix."""
    return [re.sub(r"^#\d+ \d+\.\d+ ", "", ln) for ln in lines]


async def test_the_debian_cli_is_found_behind_a_newer_cli_without_buildx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A docker 23+ CLI without buildx (as /usr/local/bin/docker on the dev machine) comes
    first on PATH; it refuses DOCKER_BUILDKIT=1, so the probe moves on to /usr/bin/docker."""
    fake = tmp_path / "bin/docker"
    write(fake, '#!/bin/sh\n[ "$1" = version ] && echo "28.2.2|20.10.24|linux" && exit 0\nexit 1\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    probe = await find_buildkit_cli()
    assert probe.cli is not None, probe.rejected
    assert probe.cli.path != str(fake)
    assert f"{fake}: CLI 28.2.2 without the buildx plugin" in probe.rejected[0]
    if probe.cli.mode == "builtin":  # no buildx on this machine: Debian's CLI it is
        assert os.path.realpath(probe.cli.path) == os.path.realpath(DEBIAN_CLI)


async def test_cache_mount_persists_across_builds(project: Path, busybox: str) -> None:
    """The warm rebuild after a source edit finds what the first build left in the cache."""
    cache_id = f"{PREFIX}-cache"
    write(
        project / "app/Dockerfile",
        f"FROM {busybox}\nCOPY src.txt /src.txt\n"
        f"RUN --mount=type=cache,id={cache_id},target=/cache "
        "sh -c 'cat /src.txt >> /cache/seen; echo SEEN=$(cat /cache/seen | tr \"\\n\" ,)'\n",
    )
    write(project / "app/src.txt", "one\n")
    image = f"{PREFIX}/cache"
    config = make_loopfile(project, {image: {"context": "app"}})
    adapter = await DockerAdapter.connect()
    lines: list[str] = []
    first = (await _builder(config, adapter, lines).build())[image]
    assert not first.reused and f"building {first.ref} (buildkit)" in lines
    assert "SEEN=one," in _output(lines)

    write(project / "app/src.txt", "two\n")
    lines.clear()
    second = (await _builder(config, adapter, lines).build())[image]
    assert second.ref != first.ref and not second.reused
    assert "SEEN=one,two," in _output(lines)  # the cache mount kept the first build's file
    assert await adapter.image_exists(second.ref)


async def test_secrets_from_a_file_and_a_variable_reach_the_build(
    project: Path, busybox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        project / "s/Dockerfile",
        f"FROM {busybox}\nENV RUN_ID={PREFIX}\n"
        "RUN --mount=type=secret,id=file --mount=type=secret,id=var "
        "sh -c 'echo FILE=$(wc -c < /run/secrets/file) VAR=$(wc -c < /run/secrets/var); "
        "echo LEAK=$(cat /run/secrets/file)'\n",
    )
    secret_file = write(project / "secret.txt", "abcdefg")  # 7 bytes
    monkeypatch.setenv("LOOPDEV_TEST_TOKEN", "xyz")  # 3 bytes
    image = f"{PREFIX}/secrets"
    config = make_loopfile(project, {image: {"context": "s"}})
    secrets = (BuildSecret("file", src=secret_file), BuildSecret("var", env="LOOPDEV_TEST_TOKEN"))
    img = dataclasses.replace(config.images[image], secrets=secrets)
    config = dataclasses.replace(config, images={image: img})
    lines: list[str] = []
    await _builder(config, await DockerAdapter.connect(), lines).build()
    assert "FILE=7 VAR=3" in _output(lines)
    assert "LEAK=********" in _output(lines)  # a RUN printing a secret is masked
    assert not any("abcdefg" in ln or "xyz" in ln for ln in lines)


async def test_classic_builder_refuses_a_cache_mount_naming_the_line(
    project: Path, busybox: str
) -> None:
    write(project / "m/Dockerfile", f"FROM {busybox}\nRUN --mount=type=cache,target=/c true\n")
    image = f"{PREFIX}/classic"
    config = make_loopfile(project, {image: {"context": "m"}})
    config = dataclasses.replace(config, build=BuildSettings(builder="classic"))
    with pytest.raises(BuildFailed) as info:
        await _builder(config, await DockerAdapter.connect(), []).build()
    assert info.value.message == (
        f"image {image}: {project}/m/Dockerfile:2: RUN --mount needs BuildKit, "
        "but build.builder is 'classic'"
    )


def _custom(config: Loopfile, image: str, cmd: str, deps: tuple[str, ...] = ()) -> Loopfile:
    img = dataclasses.replace(config.images[image], custom=CustomBuild(cmd, deps))
    return dataclasses.replace(config, images={image: img})


async def test_custom_command_builds_the_expected_ref_and_skips_unchanged_deps(
    project: Path, busybox: str
) -> None:
    image = f"{PREFIX}/custom"
    write(project / "c/build.Dockerfile", f"FROM {busybox}\nCOPY app.txt /app.txt\n")
    write(project / "c/app.txt", "v1")
    write(project / "c/notes.md", "not a dependency")
    cmd = (
        'echo "custom: $IMAGE from $BUILD_CONTEXT" && '
        'DOCKER_BUILDKIT=0 docker build -q -f build.Dockerfile --label loopdev-test=1 -t "$IMAGE" .'
    )
    config = _custom(make_loopfile(project, {image: {"context": "c"}}), image, cmd, ("app.txt",))
    adapter = await DockerAdapter.connect()
    lines: list[str] = []
    b = _builder(config, adapter, lines)
    first = (await b.build())[image]
    assert not first.reused and first.ref.startswith(f"{image}:loopdev-")
    assert f"custom: {first.ref} from {project / 'c'}" in lines  # streamed, $IMAGE, $BUILD_CONTEXT
    assert await adapter.image_exists(first.ref)
    assert adapter.build_calls == 0  # loopdev did not build it: the command did

    write(project / "c/notes.md", "edited, still not a dependency")
    again = (await b.build())[image]
    assert again.reused and again.ref == first.ref
    write(project / "c/app.txt", "v2")
    third = (await b.build())[image]
    assert not third.reused and third.ref != first.ref


async def test_custom_command_that_makes_no_image_or_fails_is_reported(project: Path) -> None:
    image = f"{PREFIX}/custom-bad"
    write(project / "c/app.txt", "x")
    config = _custom(make_loopfile(project, {image: {"context": "c"}}), image, "echo built")
    adapter = await DockerAdapter.connect()
    with pytest.raises(BuildFailed) as info:
        await _builder(config, adapter, []).build()
    ref = info.value.message.split("but image ", 1)[1].split(" ", 1)[0]
    assert info.value.message == (
        f"image {image}: the custom build command exited 0 but image {ref} does not exist"
    )
    assert "$IMAGE" in str(info.value.hint)

    failing = _custom(config, image, "echo compiling; echo 'error: no compiler' >&2; exit 4")
    with pytest.raises(BuildFailed) as info:
        await _builder(failing, adapter, []).build()
    assert info.value.message == (
        f"image {image}: custom build command failed (exit code 4): "
        "echo compiling; echo 'error: no compiler' >&2; exit 4\n"
        "  | compiling\n  | error: no compiler"
    )


async def test_a_cancelled_custom_build_stops_its_processes(project: Path) -> None:
    image = f"{PREFIX}/custom-slow"
    write(project / "c/app.txt", "1")
    pidfile = project / "pid"
    config = _custom(
        make_loopfile(project, {image: {"context": "c"}}),
        image,
        f"sleep 60 & echo $! > {pidfile}; wait",
    )
    task = asyncio.create_task(_builder(config, await DockerAdapter.connect(), []).build())
    for _ in range(200):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        await asyncio.sleep(0.05)
    pid = int(pidfile.read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(ProcessLookupError):  # the command's child is gone too
        for _ in range(100):
            os.kill(pid, 0)
            await asyncio.sleep(0.05)
