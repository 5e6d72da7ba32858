"""Build small test images from an in-memory context (always labelled ``loopdev-test=1``)."""

from __future__ import annotations

import io
import tarfile

import docker

from .labels import test_labels


def context_tar(dockerfile: str, files: dict[str, bytes | str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in {"Dockerfile": dockerfile, **(files or {})}.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build_test_image(
    client: docker.DockerClient,
    tag: str,
    dockerfile: str,
    files: dict[str, bytes | str] | None = None,
) -> str:
    """Build ``tag`` (FROM one of the local base images: nothing can be pulled); returns id."""
    ctx = io.BytesIO(context_tar(dockerfile, files))
    image, _ = client.images.build(
        fileobj=ctx,
        custom_context=True,
        tag=tag,
        labels=test_labels(),
        rm=True,
        forcerm=True,
        pull=False,
    )
    return str(image.id)
