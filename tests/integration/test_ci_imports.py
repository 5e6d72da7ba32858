"""`loopdev ci` loads only what its session uses: no dashboard (textual), no aiohttp when no
port-forward or http probe is configured, none of the kubernetes client's typed API classes
and models (its probe and log reads go through the ApiClient); and the CLI's quick exit
still runs the client's atexit clean-up (the CA file it wrote from the kubeconfig)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.deploy_support import write_project
from tests.support.imports import run_loopdev

pytestmark = pytest.mark.docker

# CoreV1Api and its kin, each importing its ~40 pydantic models (0.3-0.9 s of a `ci`).
TYPED = ("kubernetes.client.api.", "kubernetes.client.models.")


@pytest.fixture
def short_tmpdir() -> Iterator[Path]:
    """A fresh TMPDIR with a short path (the control socket lives under it: AF_UNIX caps
    socket paths at 108 bytes, which pytest's tmp_path can exceed)."""
    path = Path(tempfile.mkdtemp(prefix="ld-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_ci_loads_no_dashboard_aiohttp_or_typed_kube_api(
    tmp_path: Path, fake_cluster, namespace: str, busybox_image: str, short_tmpdir: Path
) -> None:
    path = write_project(tmp_path, "itimports", namespace)
    tmp = short_tmpdir
    env = {"KUBECONFIG": str(fake_cluster.kubeconfig), "TMPDIR": str(tmp)}
    # The first run deploys; the second finds it all unchanged and attaches to the running
    # pod's log history (a log read) — each its own process.
    for attempt in ("first", "unchanged"):
        run = run_loopdev(["-f", str(path), "ci", "--timeout", "120"], env=env)
        assert run.returncode == 0, (attempt, run.stdout, run.stderr)
        assert "every resource is ready" in run.stdout
        assert run.loaded("loopdev.adapters.kube", "loopdev.reconcilers.portforward")
        assert run.loaded("textual", "aiohttp") == [], attempt
        typed = [m for m in run.modules if m.startswith(TYPED)]  # the packages load lazily
        assert typed == [], attempt
        left = [p for p in tmp.rglob("*") if p.is_file()]
        assert left == [], attempt  # kubernetes' CA temp file is removed at exit
