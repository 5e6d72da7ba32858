from __future__ import annotations

import asyncio
import io
import json

import pytest

from loopdev.engine import actions as a
from loopdev.engine.logs import LogStore
from loopdev.engine.state import BuildInfo, EngineState, ForwardInfo, ResourceStatus
from loopdev.engine.store import Store
from loopdev.output import (
    JsonOutput,
    PlainOutput,
    color_enabled,
    events_between,
)
from loopdev.redact import REDACTOR

T0 = 1_780_000_000.0  # fixed wall clock for deterministic JSON times


def _state(*actions: a.Action) -> EngineState:
    store = Store(clock=lambda: 10.0)
    for act in actions:
        store.reduce_now(act)
    return store.state


BASE = (
    a.SessionStarted("shop", "kind-dev", "shop-dev", ("dev",)),
    a.ResourceAdded(ResourceStatus("web", "workload")),
)


def test_events_first_sight_reports_session_and_state() -> None:
    evs = events_between(EngineState(), _state(*BASE))
    assert [(e.type, e.resource) for e in evs] == [("session", ""), ("state", "web")]
    assert evs[0].data["profiles"] == ["dev"]


def test_events_nothing_when_unchanged() -> None:
    s = _state(*BASE)
    assert events_between(s, s) == []


def test_events_build_step_then_done_then_sync_and_forward() -> None:
    s0 = _state(*BASE)
    s1 = _state(*BASE, a.StatusPatched("web", {"build": BuildInfo(step="2/5 RUN pip install")}))
    done = BuildInfo(ref="web:abc", duration=3.21)
    s2 = _state(
        *BASE,
        a.StatusPatched("web", {"build": done, "last_update": "synced 3 files in 84 ms"}),
        a.StatusPatched("web", {"forwards": (ForwardInfo(8080, 80, state="listening"),)}),
    )
    assert [e.data for e in events_between(s0, s1) if e.type == "build"] == [
        {"phase": "step", "step": "2/5 RUN pip install"}
    ]
    kinds = [e.type for e in events_between(s1, s2)]
    assert kinds == ["build", "sync", "forward"]
    fwd = events_between(s1, s2)[-1].data
    assert fwd["url"] == "http://localhost:8080" and fwd["state"] == "listening"


def test_events_removed_and_cluster() -> None:
    s0 = _state(*BASE)
    s1 = _state(*BASE, a.ResourceRemoved("web"), a.ClusterReachability(False, "refused"))
    assert [(e.type, e.resource) for e in events_between(s0, s1)] == [
        ("cluster", ""),
        ("removed", "web"),
    ]


async def _run(out: PlainOutput | JsonOutput, *acts: a.Action, logs: tuple[str, ...] = ()) -> None:
    store, logstore = Store(clock=lambda: 10.0), LogStore()
    out.attach(store, logstore)
    task = asyncio.create_task(store.run())
    for act in acts:
        store.dispatch(act)
    await store.settled()
    for text in logs:
        logstore.append("web", text, source="web-7d9/web")
    await asyncio.sleep(0)
    task.cancel()


async def test_plain_output_lines() -> None:
    buf = io.StringIO()
    await _run(
        PlainOutput(buf, color=False),
        *BASE,
        a.ResourceAdded(ResourceStatus("api-server", "image")),
        logs=("listening on :80",),
    )
    await asyncio.sleep(0)
    crash = a.StateChanged("web", "crashing", "CrashLoopBackOff: exit 1")
    buf2 = io.StringIO()
    await _run(PlainOutput(buf2), *BASE, crash)
    lines = buf.getvalue().splitlines()
    assert "web        │ pending" in lines
    assert "web        │ web-7d9/web │ listening on :80" in lines
    assert "web │ crashing: CrashLoopBackOff: exit 1" in buf2.getvalue().splitlines()
    assert "\x1b[" not in buf.getvalue()


async def test_plain_output_colour_and_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    await _run(PlainOutput(buf, color=True), *BASE)
    assert "\x1b[" in buf.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    buf = io.StringIO()
    await _run(PlainOutput(buf, color=True), *BASE)
    assert "\x1b[" not in buf.getvalue()
    assert not color_enabled(buf)


async def test_json_output_one_object_per_event() -> None:
    buf = io.StringIO()
    await _run(
        JsonOutput(buf, clock=lambda: T0),
        *BASE,
        a.StatusPatched("web", {"last_update": "synced 1 file in 9 ms"}),
        logs=("hello",),
    )
    objs = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [o["type"] for o in objs] == ["session", "state", "sync", "log"]
    assert objs[1] == {
        "type": "state",
        "time": "2026-05-28T20:26:40.000Z",
        "resource": "web",
        "kind": "workload",
        "state": "pending",
        "reason": "",
        "pods_ready": 0,
        "pods_total": 0,
        "restarts": 0,
    }
    assert objs[3]["text"] == "hello" and objs[3]["source"] == "web-7d9/web"


async def test_secret_values_never_reach_plain_or_json() -> None:
    REDACTOR.add("pa55w0rd-xyz")
    try:
        for out in (PlainOutput(io.StringIO(), color=True), JsonOutput(io.StringIO())):
            await _run(
                out,
                *BASE,
                a.StateChanged("web", "error", "auth failed for pa55w0rd-xyz"),
                logs=("DB_PASSWORD=hunter22 connecting", "using pa55w0rd-xyz"),
            )
            text = out._stream.getvalue()  # type: ignore[attr-defined]
            assert "pa55w0rd-xyz" not in text and "hunter22" not in text
            assert "connecting" in text
    finally:
        REDACTOR.clear()


def test_broken_pipe_stops_writing_quietly() -> None:
    class Closed(io.StringIO):
        def write(self, s: str) -> int:
            raise BrokenPipeError

    out = JsonOutput(Closed())
    out.on_state(_state(*BASE))
    out.on_state(_state(*BASE, a.StateChanged("web", "ready")))  # no exception


async def test_plain_output_strips_escapes_only_without_colour() -> None:
    for color, expected in ((False, "web │ web-7d9/web │ INFO up"), (True, "\x1b[32mINFO")):
        buf = io.StringIO()
        await _run(PlainOutput(buf, color=color), *BASE, logs=("\x1b[32mINFO\x1b[0m up",))
        assert expected in buf.getvalue()


def _lines(out: PlainOutput | JsonOutput, steps: list[tuple[str, object]]) -> list[str]:
    """Feed ``steps`` (("log", (resource, source, text)) or ("patch", (resource, fields)))
    straight to the writer, in order, as the store and the log store would."""
    store = Store(clock=lambda: 10.0)
    for act in BASE:
        store.reduce_now(act)
    out.on_state(store.state)
    logs = LogStore()
    logs.listen(out.on_log)
    for kind, value in steps:
        if kind == "log":
            resource, source, text = value  # type: ignore[misc]
            logs.append(resource, text, source)
        else:
            resource, fields = value  # type: ignore[misc]
            out.on_state(store.reduce_now(a.StatusPatched(resource, fields)))
    buf = out._stream  # noqa: SLF001 - the StringIO the test passed in
    assert isinstance(buf, io.StringIO)
    return buf.getvalue().splitlines()[2:]  # after the session and first state lines


def test_plain_output_says_a_live_update_once_whichever_comes_first() -> None:
    msg = "synced 1 file in 71 ms"
    log_first = [("log", ("web", "loopdev", msg)), ("patch", ("web", {"last_update": msg}))]
    assert _lines(PlainOutput(io.StringIO()), log_first) == ["web │ loopdev │ " + msg]
    event_first = [("patch", ("web", {"last_update": msg})), ("log", ("web", "loopdev", msg))]
    assert _lines(PlainOutput(io.StringIO()), event_first) == ["web │ " + msg]


def test_plain_output_says_the_same_news_again_when_it_happens_again() -> None:
    one, two = "synced 1 file in 71 ms", "synced 1 file in 70 ms"
    steps = [
        ("log", ("web", "loopdev", one)),
        ("patch", ("web", {"last_update": one})),
        ("log", ("web", "loopdev", two)),
        ("patch", ("web", {"last_update": two})),
        ("log", ("web", "loopdev", two)),  # the same words, later: a new update
    ]
    assert _lines(PlainOutput(io.StringIO()), steps) == [
        "web │ loopdev │ " + one,
        "web │ loopdev │ " + two,
        "web │ loopdev │ " + two,
    ]


def test_plain_output_rebuilding_once() -> None:
    steps = [
        ("log", ("web", "loopdev", "rebuilding web-image: Dockerfile changed")),
        ("patch", ("web", {"last_update": "rebuilding: Dockerfile changed"})),
    ]
    assert _lines(PlainOutput(io.StringIO()), steps) == [
        "web │ loopdev │ rebuilding web-image: Dockerfile changed"
    ]


def test_plain_output_a_build_step_once_but_json_keeps_both_event_types() -> None:
    step = "Step 9/10 : RUN make"
    steps = [
        ("log", ("web", "build", step)),
        ("patch", ("web", {"build": BuildInfo(step=step)})),
        ("patch", ("web", {"build": BuildInfo(step="Step 10/10 : CMD run")})),  # no output line
    ]
    assert _lines(PlainOutput(io.StringIO()), steps) == [
        "web │ build │ " + step,
        "web │ building: Step 10/10 : CMD run",
    ]
    kinds = [json.loads(x)["type"] for x in _lines(JsonOutput(io.StringIO()), steps)]
    assert kinds == ["log", "build", "build"]


def test_plain_output_drops_a_step_event_that_comes_after_more_output() -> None:
    """BuildKit prints ``#4 CACHED`` right after the header; the step event (batched per loop
    turn) can arrive after it. Caught in CI: ``building: #4 [2/3] COPY www /www`` printed."""
    header = "#4 [2/3] COPY www /www"
    steps = [
        ("log", ("web", "build", header)),
        ("log", ("web", "build", "#4 CACHED")),
        ("patch", ("web", {"build": BuildInfo(step=header)})),
        ("patch", ("web", {"build": BuildInfo(ref="web:1", duration=0.3)})),
        ("patch", ("web", {"build": BuildInfo(step=header)})),  # the next build, no output
    ]
    assert _lines(PlainOutput(io.StringIO()), steps) == [
        "web │ build │ " + header,
        "web │ build │ #4 CACHED",
        "web │ built web:1 in 0.3s",
        "web │ building: " + header,
    ]
