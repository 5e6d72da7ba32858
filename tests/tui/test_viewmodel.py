from __future__ import annotations

from loopdev.engine import actions as a
from loopdev.engine.logs import LogStore
from loopdev.engine.state import BuildInfo, ForwardInfo, ResourceStatus
from loopdev.redact import REDACTOR
from loopdev.tui import viewmodel as vm
from tests.tui.demo import NOW, SECRET, example_store


def _cells(width: int = 80) -> dict[str, dict[str, str]]:
    store, _ = example_store()
    cols = vm.columns_for_width(width)
    return {
        name: {c.key: cell.text for c, cell in zip(cols, row, strict=True)}
        for name, row in vm.rows(store.state, NOW, width).items()
    }


def test_ages() -> None:
    assert [vm.format_age(s) for s in (-1, 5, 61, 7200, 90000)] == ["0s", "5s", "1m", "2h", "1d"]


def test_narrow_rows_fit_80_columns() -> None:
    cells = _cells(80)
    assert list(cells) == ["hello-web", "web", "worker", "api", "docs"]
    assert cells["web"] == {
        "name": "web",
        "state": "ready (1m)",
        "build": "reused 3f9a1c…",
        "pods": "1/1",
        "forwards": "localhost:8080",
    }
    assert cells["worker"]["state"] == "crashing: Crash… (12s)"
    assert cells["worker"]["pods"] == "0/1 ↻4"
    assert cells["api"]["build"].startswith("» Step 4/7")
    room = vm.budgets(80)
    # content + 2 cells of padding per column stays within the terminal
    assert sum(room[c.key] + 2 for c in vm.columns_for_width(80)) <= 80


def test_wide_rows_show_kind_and_last_update() -> None:
    cells = _cells(160)
    assert cells["web"]["kind"] == "workload"
    assert cells["web"]["update"] == "synced 3 files in 84 ms"
    assert cells["web"]["build"] == "reused 3f9a1c2e7b4d 0.4s"
    assert cells["worker"]["state"] == "crashing: CrashLoopBackOff: exit 1 (12s)"


def test_forward_cell_links_and_counts_extra() -> None:
    res = ResourceStatus(
        "x", "workload", forwards=(ForwardInfo(8080, 80, state="listening"), ForwardInfo(9090, 90))
    )
    cell = vm.resource_cells(res, 0, 80)["forwards"]
    assert (cell.text, cell.link) == ("localhost:8080 +1", "http://localhost:8080")


def test_forward_that_cannot_bind_shows_as_failed() -> None:
    cause = "local port 8080 is already in use by python3 (pid 7)"
    busy = ForwardInfo(8080, 80, state=f"error: {cause}", listen_error=cause)
    res = ResourceStatus("x", "workload", forwards=(busy,))
    assert vm.resource_cells(res, 0, 80)["forwards"].style == "red"
    assert f"localhost:8080 -> 80 (error: {cause})" in vm.details(res, 0, lambda _: [])
    waiting = ResourceStatus("x", "workload", forwards=(ForwardInfo(8080, 80),))
    assert vm.resource_cells(waiting, 0, 80)["forwards"].style == "dim"


def test_build_cell_states() -> None:
    res = ResourceStatus("x", "image", build=BuildInfo("img:abc", reused=False, duration=2.25))
    assert vm.build_cell(res, 30).text == "built abc 2.2s"
    assert vm.build_cell(ResourceStatus("x", "image"), 30).text == "-"
    assert vm.short_tag("reg:5000/team/api:loopdev-0123456789abcdef") == "0123456789ab"
    assert vm.short_tag("localhost:5000/api") == "localhost:5000/api"


def test_header_and_status_line() -> None:
    store, _ = example_store()
    assert vm.header(store.state) == ("loopdev · hello", "ctx kind-dev · ns hello · profiles dev")
    text, style = vm.status_line(store.state)
    assert text.startswith("building api: Step 4/7") and style == "yellow"
    store.reduce_now(a.StatusPatched("api", {"build": BuildInfo("api:1")}))
    assert vm.status_line(store.state)[0] == "failing: worker (enter for details)"
    store.reduce_now(a.ClusterReachability(False))
    assert vm.status_line(store.state)[0].startswith("cluster unreachable")


def test_log_view_filters_and_bounds() -> None:
    logs = LogStore()
    for i in range(50):
        logs.append("web" if i % 2 else "db", f"line {i}", "pod/c")
    assert vm.log_view(logs.lines(), None, "", 3, 4) == [
        "web  │ line 47",
        "db   │ line 48",
        "web  │ line 49",
    ]
    assert vm.log_view(logs.lines("web"), "web", "line 4", 10) == [
        "pod/c │ line 41",
        "pod/c │ line 43",
        "pod/c │ line 45",
        "pod/c │ line 47",
        "pod/c │ line 49",
    ]


def test_details_show_everything_but_secrets() -> None:
    store, logs = example_store()
    REDACTOR.add(SECRET)
    try:
        worker = store.state.resource("worker")
        assert worker is not None
        text = vm.details(
            worker, NOW, lambda src: [x for x in logs.lines("worker") if x.source == src]
        )
    finally:
        REDACTOR.clear()
    assert "Deployment/hello-worker" in text
    assert "Back-off restarting failed container" in text
    assert "CrashLoopBackOff: exit 1 (DB_PASSWORD=********" in text
    assert SECRET not in text


def test_log_lines_lose_terminal_escapes() -> None:
    logs = LogStore()
    logs.append("web", "\x1b[32mINFO\x1b[0m started \x1b]0;title\x07ok", "p/c")
    assert vm.log_view(logs.lines(), None, "", 5, 3) == ["web │ INFO started ok"]


def test_filter_cannot_find_a_secret_value() -> None:
    logs = LogStore()
    logs.append("worker", f"password is {SECRET}", "p/c")
    REDACTOR.add(SECRET)
    try:
        assert vm.log_view(logs.lines(), None, SECRET[:8], 5) == []
        assert vm.log_view(logs.lines(), None, "password", 5) == ["worker │ password is ********"]
    finally:
        REDACTOR.clear()


def test_log_view_masks_a_value_remembered_from_an_earlier_session(tmp_path) -> None:  # noqa: ANN001
    from loopdev.redact import Redactor
    from loopdev.redact_memory import SecretMemory

    earlier = Redactor()
    earlier.add_manifest({"kind": "Secret", "stringData": {"value": "alpha-7f3c1"}})
    memory = SecretMemory.open(tmp_path / "m.json")
    memory.learn(earlier.values())
    logs = LogStore()
    logs.append("web", "current alpha-7f3c1", "p/c")
    memory.apply(REDACTOR)
    try:
        assert vm.log_view(logs.lines(), None, "", 5) == ["web │ current ********"]
        assert vm.log_view(logs.lines(), None, "alpha", 5) == []
    finally:
        REDACTOR.clear()
