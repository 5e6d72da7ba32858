"""The shipped examples reach ready on the fake cluster (offline profile: local base images).

Each example is copied to a temp dir (never touching the source tree) with
``build.delivery: shared`` added, because the harness context is named ``kind-*`` but its
pods run on this Docker engine.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from loopdev.commands.options import GlobalOptions
from loopdev.config.load import load_from_options
from loopdev.deploy.down import tear_down
from tests.integration.deploy_support import make_session

pytestmark = pytest.mark.docker
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def copy_example(name: str, dest: Path) -> Path:
    root = dest / name
    shutil.copytree(EXAMPLES / name, root)
    loopfile = root / "loopfile.yaml"
    loopfile.write_text(loopfile.read_text() + "\nbuild:\n  delivery: shared\n")
    return loopfile


@pytest.mark.parametrize(
    ("example", "resource", "base"),
    [("plain-manifests", "web", "busybox_image"), ("hello", "web", "python_image")],
)
async def test_example_reaches_ready(
    example: str,
    resource: str,
    base: str,
    tmp_path: Path,
    fake_cluster,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    request.getfixturevalue(base)
    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    monkeypatch.setenv("LOOPDEV_OFFLINE", "1")
    path = copy_example(example, tmp_path)
    config = load_from_options(GlobalOptions(file=path, namespace=namespace), command="ci")
    assert "offline" in config.active_profiles
    session = make_session(config, fake_cluster.context, once=True)
    try:
        verdict = await session.run_until_ready(timeout=120)
        assert verdict.ok, (verdict, [line.text for line in session.logs.lines()][-20:])
        res = session.store.state.resource(resource)
        assert res is not None and res.state == "ready" and res.pods_ready >= 1
        report = await tear_down(session.ctx.kube, namespace, config.name, timeout=60)
        assert report.deleted and not report.still_there
    finally:
        session.ctx.kube.close()
