"""Pilot tests: the dashboard against a state fed through the real Store and LogStore."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import pytest
from textual.pilot import Pilot

from loopdev.engine import actions as a
from loopdev.engine.logs import LogStore
from loopdev.engine.state import EngineState
from loopdev.engine.store import Store
from loopdev.redact import REDACTOR
from loopdev.tui.app import Dashboard, kube_events
from loopdev.tui.screens import DetailsScreen
from tests.tui.demo import SECRET, clock, example_store


@dataclass
class Running:
    store: Store
    logs: LogStore
    seen: list[a.Action] = field(default_factory=list)

    def record(self, state: EngineState, batch: Sequence[a.Action]) -> None:
        self.seen.extend(batch)


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    """The example state in a running store (as the engine would have it), recording actions."""
    store, logs = example_store()
    run = Running(store, logs)
    store.subscribe(run.record)
    task = asyncio.create_task(store.run())
    yield run
    task.cancel()


async def until(pilot: Pilot[object], ok: Callable[[], bool], timeout: float = 3.0) -> None:
    """Let the dashboard's timers run until ``ok()`` (the drain/refresh tick is 100 ms)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not ok():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await pilot.pause(0.05)


def _log_text(app: Dashboard) -> list[str]:
    return list(app.log_pane.lines)


async def test_select_read_logs_trigger_details_quit(running: Running) -> None:
    app = Dashboard(running.store, running.logs, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.table.selected == "hello-web"
        await pilot.press("down")
        assert app.table.selected == "web"

        await pilot.press("l")
        lines = _log_text(app)
        assert app.log_resource == "web" and len(lines) == 12
        assert all(ln.startswith("hello-web-7d9/web │ 10.244.0.1") for ln in lines)

        running.logs.append("web", "GET /new 200", "hello-web-7d9/web")
        running.logs.append("worker", "not shown in web's logs", "w/w")
        await until(pilot, lambda: _log_text(app)[-1] == "hello-web-7d9/web │ GET /new 200")

        await pilot.press("a")
        assert app.log_resource is None and _log_text(app)[-1].startswith("worker")

        await pilot.press("r", "R")
        await running.store.settled()
        triggers = [x for x in running.seen if isinstance(x, a.TriggerRequested)]
        assert triggers == [a.TriggerRequested("web"), a.TriggerRequested("web", True)]

        await pilot.press("enter")
        assert isinstance(app.screen, DetailsScreen) and app.screen.resource == "web"
        text = str(app.screen.query_one("#details").render())
        assert "Deployment/hello-web" in text and "localhost:8080 -> 8000" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailsScreen)

        await pilot.press("q")
    assert app.return_value == "quit"
    await running.store.settled()
    assert a.ShutdownRequested(down=False) in running.seen


async def test_state_changes_update_only_changed_cells(running: Running) -> None:
    app = Dashboard(running.store, running.logs, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        before = app.table.cell_updates
        running.store.dispatch(a.StateChanged("api", "ready"))
        running.store.dispatch(a.StatusPatched("api", {"pods_ready": 1, "pods_total": 1}))
        await running.store.settled()
        await until(pilot, lambda: app.table.cell_updates > before)
        row = [str(c) for c in app.table.get_row("api")]
        assert row[1] == "ready (0s)" and row[3] == "1/1"
        assert app.table.cell_updates - before == 2  # state and pods; nothing else redrawn
        assert app.table.selected == "hello-web"  # the cursor did not jump

        await pilot.press("down", "down")
        running.store.dispatch(a.ResourceRemoved("web"))
        await until(pilot, lambda: app.table.row_count == 4)
        assert app.table.selected == "worker"  # the selection follows its resource


async def test_filter_logs(running: Running) -> None:
    app = Dashboard(running.store, running.logs, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash", *"fatal", "enter")
        assert _log_text(app) == ["worker    │ FATAL: password authentication failed"]
        running.logs.append("web", "fatal error in web", "p/c")
        running.logs.append("web", "all good", "p/c")
        await until(pilot, lambda: _log_text(app)[-1] == "web       │ fatal error in web")
        await pilot.press("slash", "escape")
        assert app.log_query == "" and len(_log_text(app)) == 19


async def test_down_asks_first(running: Running) -> None:
    app = Dashboard(running.store, running.logs, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("D", "n")
        assert app.is_running and app.return_value is None
        await pilot.press("D", "y")
    assert app.return_value == "down"
    await running.store.settled()
    assert a.ShutdownRequested(down=True) in running.seen


async def test_secrets_never_on_screen(running: Running) -> None:
    REDACTOR.add(SECRET)
    app = Dashboard(running.store, running.logs, clock=clock)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            main = app.export_screenshot()
            await pilot.press("down", "down", "enter")
            details = app.export_screenshot()
    finally:
        REDACTOR.clear()
    assert "password" in main  # the worker's log line is there...
    assert "DB_PASSWORD=" in details  # ...and so is its last error...
    assert SECRET not in main and SECRET not in details  # ...without the value


async def test_help_screen(running: Running) -> None:
    app = Dashboard(running.store, running.logs, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert "down: delete what loopdev deployed" in app.export_screenshot().replace(
            "&#160;", " "
        )
        await pilot.press("escape", "q")
    assert app.return_value == "quit"


async def test_no_color_renders_greys_only(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = Dashboard(running.store, running.logs, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        svg = app.export_screenshot()
    chrome = {"#28c840", "#febc2e", "#ff5f57", "#c5c8c6"}  # the SVG's window decorations
    colours = set(re.findall(r'(?:fill|color)[:=]\s*"?#([0-9a-fA-F]{6})', svg)) - {
        c[1:] for c in chrome
    }
    assert colours and all(c[0:2] == c[2:4] == c[4:6] for c in (x.lower() for x in colours))
    assert "crashing" in svg


class FakeKube:
    """Only what ``kube_events`` uses; fails on demand."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.asked: list[tuple[str, str]] = []

    async def events(self, namespace: str, name: str) -> list[dict[str, object]]:
        self.asked.append((namespace, name))
        if self.fail:
            raise ConnectionError("cluster unreachable")
        return [
            {"type": "Normal", "reason": "Pulled", "message": "image present", "count": 1},
            {"type": "Warning", "reason": "BackOff", "message": f"token={SECRET}", "count": 7},
        ]


@pytest.mark.parametrize("fail", [False, True])
async def test_details_fetch_cluster_events(running: Running, fail: bool) -> None:
    kube = FakeKube(fail)
    source = kube_events(kube, "hello", running.store)
    app = Dashboard(running.store, running.logs, clock=clock, events=source)
    REDACTOR.add(SECRET)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("down", "down", "enter")
            screen = app.screen
            assert isinstance(screen, DetailsScreen)
            await until(pilot, lambda: screen.events is not None)
            text = str(screen.query_one("#details").render())
    finally:
        REDACTOR.clear()
    assert kube.asked == [("hello", "hello-worker")]
    if fail:
        assert "(events unavailable: cluster unreachable)" in text
    else:
        assert "Normal Pulled: image present\n" in text
        assert "Warning BackOff: token=******** (x7)" in text
    assert SECRET not in text


async def test_scrolling_up_pauses_following_until_f(running: Running) -> None:
    app = Dashboard(running.store, running.logs, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.log_pane
        for i in range(100):
            running.logs.append("web", f"line {i}", "p/c")
        await until(pilot, lambda: pane.lines[-1].endswith("line 99"))
        await until(pilot, lambda: pane.scroll_y == pane.max_scroll_y > 0)
        pane.scroll_home(animate=False, immediate=True)
        running.logs.append("web", "line 100", "p/c")
        await until(pilot, lambda: pane.lines[-1].endswith("line 100"))
        assert pane.scroll_y == 0  # reading is not interrupted
        assert "scrolled up (f to follow)" in str(app._logtitle.render())
        await pilot.press("f")
        assert pane.scroll_y == pane.max_scroll_y and app.follow
        await pilot.press("f")
        assert not app.follow and "paused" in str(app._logtitle.render())


async def test_ctrl_c_quits_and_leaves_resources_running(running: Running) -> None:
    app = Dashboard(running.store, running.logs, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+c")
    assert app.return_value == "quit"
    await running.store.settled()
    assert a.ShutdownRequested(down=False) in running.seen


class OneWatch:
    """The cluster watch's ``get``: hello-worker lives in a release's own namespace."""

    def get(self, kind: str, name: str) -> dict[str, object] | None:
        if (kind, name) == ("Deployment", "hello-worker"):
            return {"metadata": {"name": name, "namespace": "cache"}}
        return None


async def test_events_come_from_the_workloads_own_namespace(running: Running) -> None:
    kube = FakeKube()
    source = kube_events(kube, "hello", running.store, OneWatch())
    REDACTOR.add(SECRET)
    try:
        lines = await source("worker")
    finally:
        REDACTOR.clear()
    assert kube.asked == [("cache", "hello-worker")]
    assert lines and lines[0].startswith("Normal Pulled")
