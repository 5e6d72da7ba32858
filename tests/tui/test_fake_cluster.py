"""The dashboard on the real engine against the fake Kubernetes API server (pods are real
containers): select, read logs, trigger a rebuild, open details, quit."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopdev.adapters.docker import DockerAdapter
from loopdev.tui.app import Dashboard
from loopdev.tui.screens import DetailsScreen
from tests.integration.deploy_support import load, make_session, write_project
from tests.tui.test_app import until
from tests.tui.test_engine_session import _cell, _select

pytestmark = pytest.mark.docker


async def test_dashboard_on_the_fake_cluster(
    tmp_path: Path,
    fake_cluster,  # noqa: ANN001 - the shared session fixture
    namespace: str,
    busybox_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    docker = await DockerAdapter.connect()
    config = load(write_project(tmp_path, "tuifc", namespace))
    session = make_session(config, fake_cluster.context, docker=docker)
    await session.start()
    app = Dashboard(session.store, session.logs)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: _cell(app, "web", "state")().startswith("ready"), 60)
            await _select(pilot, app, "web")
            await pilot.press("l")
            await until(pilot, lambda: "hello one" in "".join(app.log_pane.lines), 30)

            first = session.store.state.resource("it-web")
            assert first is not None and first.build is not None
            builds = docker.build_calls
            await _select(pilot, app, "it-web")
            await pilot.press("r")
            await until(pilot, lambda: docker.build_calls > builds, 60)
            await until(pilot, lambda: _cell(app, "web", "state")().startswith("ready"), 60)

            await _select(pilot, app, "web")
            await pilot.press("enter")
            assert isinstance(app.screen, DetailsScreen)
            assert "Deployment/web" in str(app.screen.query_one("#details").render())
            await pilot.press("escape", "q")
        assert app.return_value == "quit"
    finally:
        await session.stop()
        session.ctx.kube.close()
