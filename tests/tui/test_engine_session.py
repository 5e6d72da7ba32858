"""The dashboard driven by the real engine session (in-memory cluster and builder): it shows
what the reconcilers report, and its key presses reach them."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from loopdev.commands.options import GlobalOptions
from loopdev.config.load import load_from_options
from loopdev.engine.session import Session
from loopdev.output import JsonOutput, PlainOutput
from loopdev.reconcilers.build import BuildReconciler
from loopdev.reconcilers.deploy import DeployReconciler
from loopdev.reconcilers.logs import LogsReconciler
from loopdev.reconcilers.status import StatusReconciler
from loopdev.tui.app import Dashboard
from loopdev.tui.screens import DetailsScreen
from tests.engine.memkube import CountingBuilder, MemKube
from tests.integration.deploy_support import write_project
from tests.tui.test_app import until


def _session(tmp_path: Path, kube: MemKube, builder: CountingBuilder) -> Session:
    config = load_from_options(GlobalOptions(file=write_project(tmp_path, "tui", "tuins")))
    reconcilers = [
        BuildReconciler(factory=lambda ctx: builder),
        DeployReconciler(),
        StatusReconciler(tick=0.05),
        LogsReconciler(),
    ]
    return Session(config, kube, "kind-tui", reconcilers=reconcilers)


def _cell(app: Dashboard, name: str, column: str) -> Callable[[], str]:
    def read() -> str:
        try:
            return str(app.table.get_cell(name, column))
        except Exception:  # noqa: BLE001 - the row is not there yet
            return ""

    return read


async def _select(pilot: Pilot[object], app: Dashboard, name: str) -> None:
    """Move the cursor with the arrow keys, as a user would."""
    target = list(app.store.state.order).index(name)
    while app.table.cursor_row != target:
        await pilot.press("down" if app.table.cursor_row < target else "up")
    assert app.table.selected == name


async def test_dashboard_follows_the_engine_and_triggers_a_rebuild(tmp_path: Path) -> None:
    kube, builder = MemKube(), CountingBuilder()
    kube.logs["web-g1"] = ["serving from generation 1"]
    kube.logs["web-g2"] = ["serving from generation 2"]
    session = _session(tmp_path, kube, builder)
    await session.start()
    app = Dashboard(session.store, session.logs)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: _cell(app, "web", "state")().startswith("ready"), 10)
            assert app.title == "loopdev · tui" and "ctx kind-tui · ns tuins" in app.sub_title
            assert _cell(app, "it-web", "build")() == "built v1 0.0s"

            await _select(pilot, app, "web")
            await pilot.press("l")
            await until(pilot, lambda: "serving from generation 1" in "".join(app.log_pane.lines))

            await _select(pilot, app, "it-web")
            await pilot.press("r")  # TriggerRequested -> the build reconciler rebuilds
            await until(pilot, lambda: _cell(app, "it-web", "build")() == "built v2 0.0s", 10)
            assert builder.calls[-1] == (("it-web",), True)

            await _select(pilot, app, "web")
            await pilot.press("a")
            await until(pilot, lambda: "serving from generation 2" in "".join(app.log_pane.lines))

            await pilot.press("enter")
            assert isinstance(app.screen, DetailsScreen)
            assert "Deployment/web" in str(app.screen.query_one("#details").render())
            await pilot.press("escape", "q")
        assert app.return_value == "quit"
    finally:
        await session.stop()


async def test_json_and_plain_output_follow_a_ci_run(tmp_path: Path) -> None:
    kube = MemKube()
    kube.logs["web-g1"] = ["serving with API_KEY=sk-live-0123456789"]
    for presenter in (JsonOutput(io.StringIO()), PlainOutput(io.StringIO())):
        session = _session(tmp_path, kube, CountingBuilder())
        session.presenter = presenter
        session.settle = 0.0
        assert (await session.run_until_ready(10)).ok
        presenter.flush()
        out = presenter._stream.getvalue()  # type: ignore[attr-defined]
        assert "sk-live-0123456789" not in out and "API_KEY=********" in out
        if isinstance(presenter, JsonOutput):
            events = [json.loads(line) for line in out.splitlines()]
            kinds = {(e["type"], e.get("resource"), e.get("state", e.get("phase"))) for e in events}
            assert {("session", None, None), ("build", "it-web", "done")} <= kinds
            assert ("state", "web", "ready") in kinds
        else:
            assert "web    │ ready · 1/1 pods" in out.splitlines()
