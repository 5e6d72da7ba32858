"""What the restart wrapper learns from a built image: its ENTRYPOINT/CMD, and whether it has
/bin/sh (checked in a created, never started, container that is removed again)."""

from __future__ import annotations

import io
import uuid

import docker
import pytest

from loopdev.adapters.image_process import PROBE_LABEL, image_processes
from loopdev.render.restart_wrap import ImageProcess

pytestmark = pytest.mark.docker


def build(client: docker.DockerClient, dockerfile: str) -> str:
    tag = f"loopdev-it-process/{uuid.uuid4().hex[:8]}:1"
    text = dockerfile + "LABEL loopdev-test=1\n"
    client.images.build(fileobj=io.BytesIO(text.encode()), tag=tag, rm=True)
    return tag


def test_entrypoint_cmd_and_shell_are_read_from_the_image(busybox_image: str) -> None:
    client = docker.from_env()
    with_sh = build(
        client, f'FROM {busybox_image}\nENTRYPOINT ["/bin/app"]\nCMD ["--port", "80"]\n'
    )
    # A scratch image holding one file: no shell (COPY --from keeps it tiny).
    no_sh = build(
        client,
        f'FROM {busybox_image} AS b\nFROM scratch\nCOPY --from=b /bin/busybox /app\nCMD ["/app"]\n',
    )
    try:
        got = image_processes(
            client.api, {"a": with_sh, "b": no_sh, "c": "loopdev-it-process/none:0"}
        )
        assert got == {
            "a": ImageProcess(("/bin/app",), ("--port", "80"), shell=True),
            "b": ImageProcess((), ("/app",), shell=False),
        }  # an image Docker does not have is left out
        probes = client.containers.list(all=True, filters={"label": PROBE_LABEL})
        assert probes == []  # the shell probes were removed
    finally:
        for tag in (with_sh, no_sh):
            client.images.remove(tag, force=True)
