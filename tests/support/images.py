"""Locally built base images for tests (nothing can be pulled on the test machines).

Both images are built once per machine and reused by tag; each carries the label
``loopdev-test=1`` plus a ``loopdev-test.recipe`` label so a changed recipe rebuilds.
The debootstrap rootfs for the Python image lives in a cache dir, never in the repo.

Run ``python -m tests.support.images`` to prebuild both (CI does this once).
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import docker.errors

BUSYBOX_TAG = "loopdev-test/busybox:1"
BUSYBOX_NO_TMP_TAG = "loopdev-test/busybox-no-tmp:1"  # like distroless/scratch-based images
PYTHON_TAG = "loopdev-test/python:3.11"
TEST_LABEL = "loopdev-test"

BUSYBOX_APPLETS = (
    "sh ash cat ls head tail sleep tar httpd echo mkdir rm cp mv env sed grep wc touch true "
    "false test id hostname nc wget date sha256sum md5sum stat find xargs printf kill ps chmod "
    "pwd uname seq tee sort uniq cut tr basename dirname readlink ln df du yes"
).split()
_BUSYBOX_RECIPE = "busybox-v1:" + ",".join(BUSYBOX_APPLETS)
_BUSYBOX_NO_TMP_RECIPE = _BUSYBOX_RECIPE + ":no-tmp"
_PYTHON_RECIPE = "python-v1:bookworm:minbase:python3-minimal"


def cache_dir() -> Path:
    """Where expensive build inputs live across test runs (outside the repo)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "loopdev-test"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def _build_lock(name: str) -> Iterator[None]:
    """Serialize builds across processes (pytest-xdist, parallel CI jobs)."""
    with open(cache_dir() / f"{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _recipe_hash(recipe: str) -> str:
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def _have_image(client: docker.DockerClient, tag: str, recipe: str) -> bool:
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    labels = image.labels or {}
    return labels.get("loopdev-test.recipe") == _recipe_hash(recipe)


def _import(
    client: docker.DockerClient, data: bytes | Path, tag: str, recipe: str, cmd: str
) -> None:
    """``docker import`` a rootfs tarball with labels, CMD and PATH (Dockerfile changes)."""
    changes = [
        f"LABEL {TEST_LABEL}=1",
        f"LABEL loopdev-test.recipe={_recipe_hash(recipe)}",
        f"CMD {cmd}",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ]
    repo, _, version = tag.rpartition(":")
    if isinstance(data, Path):
        client.api.import_image(src=str(data), repository=repo, tag=version, changes=changes)
    else:
        client.api.import_image_from_data(data, repository=repo, tag=version, changes=changes)
    client.images.get(tag)  # proves the import landed


def _busybox_tar(tmp: bool = True) -> bytes:
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        subprocess.run(["apt-get", "install", "-y", "-qq", "busybox-static"], check=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp", "etc", "root", "var", "var/www", "proc", "sys", "dev", "usr"):
            if d == "tmp" and not tmp:
                continue
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        tar.add(str(busybox), arcname="bin/busybox")
        for applet in BUSYBOX_APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        usrbin = tarfile.TarInfo("usr/bin")
        usrbin.type = tarfile.SYMTYPE
        usrbin.linkname = "../bin"
        tar.addfile(usrbin)
        for name, text in (
            ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"),
            ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
        ):
            payload = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def ensure_busybox_image(client: docker.DockerClient) -> str:
    """Return the tag of the busybox test image, building it on first use (~1 s)."""
    if _have_image(client, BUSYBOX_TAG, _BUSYBOX_RECIPE):
        return BUSYBOX_TAG
    with _build_lock("busybox"):
        if not _have_image(client, BUSYBOX_TAG, _BUSYBOX_RECIPE):
            _import(client, _busybox_tar(), BUSYBOX_TAG, _BUSYBOX_RECIPE, '["/bin/sh"]')
    return BUSYBOX_TAG


def ensure_busybox_no_tmp_image(client: docker.DockerClient) -> str:
    """The busybox test image without a /tmp directory (built on first use, ~1 s)."""
    if _have_image(client, BUSYBOX_NO_TMP_TAG, _BUSYBOX_NO_TMP_RECIPE):
        return BUSYBOX_NO_TMP_TAG
    with _build_lock("busybox"):
        if not _have_image(client, BUSYBOX_NO_TMP_TAG, _BUSYBOX_NO_TMP_RECIPE):
            recipe = _BUSYBOX_NO_TMP_RECIPE
            _import(client, _busybox_tar(tmp=False), BUSYBOX_NO_TMP_TAG, recipe, '["/bin/sh"]')
    return BUSYBOX_NO_TMP_TAG


def _python_rootfs_tar() -> Path:
    """Debootstrap once into the cache, then keep a tarball of it for fast re-imports."""
    tarball = cache_dir() / f"python-rootfs-{_recipe_hash(_PYTHON_RECIPE)}.tar"
    if tarball.exists():
        return tarball
    if shutil.which("debootstrap") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], check=True)
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        root = Path(tmp) / "rootfs"
        cmd = ["debootstrap", "--variant=minbase", "--include=python3-minimal", "bookworm"]
        mirror = os.environ.get("LOOPDEV_TEST_DEBIAN_MIRROR")
        subprocess.run(
            [*cmd, str(root), *([mirror] if mirror else [])], check=True, stdout=subprocess.DEVNULL
        )
        for junk in (
            "var/cache/apt/archives",
            "var/lib/apt/lists",
            "usr/share/doc",
            "usr/share/man",
            "usr/share/locale",
        ):
            shutil.rmtree(root / junk, ignore_errors=True)
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True)
        partial.rename(tarball)
    return tarball


def ensure_python_image(client: docker.DockerClient) -> str:
    """Return the tag of the Python 3.11 test image (debootstrap once per machine, ~35 s)."""
    if _have_image(client, PYTHON_TAG, _PYTHON_RECIPE):
        return PYTHON_TAG
    with _build_lock("python"):
        if not _have_image(client, PYTHON_TAG, _PYTHON_RECIPE):
            tarball = _python_rootfs_tar()
            _import(client, tarball, PYTHON_TAG, _PYTHON_RECIPE, '["python3"]')
    return PYTHON_TAG


def remove_images(refs: set[str]) -> None:
    """Remove the images a test session built (forced: its pods are gone with it)."""
    client = docker.from_env()
    try:
        for ref in refs:
            try:
                client.images.remove(ref, force=True)
            except docker.errors.APIError:
                pass
    finally:
        client.close()


def main() -> None:
    client = docker.from_env()
    print(ensure_busybox_image(client))
    print(ensure_python_image(client))


if __name__ == "__main__":
    main()
