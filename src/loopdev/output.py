"""Plain and JSON event streams: two more readers of the engine, like the dashboard.

``events_between(old, new)`` is the pure part: which user-visible events one state change
makes (state, build step/result, sync, forward, ...). ``PlainOutput`` prints them as
``name │ text`` lines; ``JsonOutput`` prints one JSON object per event (docs/output.md).
Both scrub every string through ``loopdev.redact`` before it leaves the process.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import IO, Any

from rich.color import ColorSystem
from rich.style import Style

from loopdev.build.progress import STEP_CHARS, step_of
from loopdev.engine.actions import Action
from loopdev.engine.logs import LogLine, LogStore
from loopdev.engine.state import EngineState, ResourceStatus
from loopdev.engine.store import Store
from loopdev.redact import scrub
from loopdev.tui.styles import resource_style, state_style, strip_ansi

SEP = "│"


@dataclass(frozen=True)
class Event:
    type: str  # session | cluster | config | state | build | sync | forward | removed | log
    resource: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    time: float | None = None  # wall time when known (log lines); else the writer's clock


def events_between(old: EngineState, new: EngineState) -> list[Event]:
    """Every event a reader should see when the state goes from ``old`` to ``new``."""
    out: list[Event] = []
    session = (new.project, new.context, new.namespace, new.profiles)
    if new.project and session != (old.project, old.context, old.namespace, old.profiles):
        keys = ("project", "context", "namespace")
        out.append(
            Event(
                "session",
                "",
                {**dict(zip(keys, session, strict=False)), "profiles": list(new.profiles)},
            )
        )
    if new.cluster_reachable != old.cluster_reachable:
        out.append(Event("cluster", "", {"reachable": new.cluster_reachable}))
    if new.config_error != old.config_error:
        out.append(Event("config", "", {"error": new.config_error}))
    for name in new.order:
        res = new.resources.get(name)
        if res is not None:
            out.extend(_resource_events(old.resources.get(name), res))
    out.extend(Event("removed", n) for n in old.order if n not in new.resources)
    return out


def _resource_events(prev: ResourceStatus | None, res: ResourceStatus) -> list[Event]:
    out: list[Event] = []
    shown = (res.state, res.reason, res.pods_ready, res.pods_total, res.restarts)
    if prev is None or shown != (
        prev.state,
        prev.reason,
        prev.pods_ready,
        prev.pods_total,
        prev.restarts,
    ):
        out.append(
            Event(
                "state",
                res.name,
                {
                    "kind": res.kind,
                    "state": res.state,
                    "reason": res.reason,
                    "pods_ready": res.pods_ready,
                    "pods_total": res.pods_total,
                    "restarts": res.restarts,
                },
            )
        )
    b, pb = res.build, prev.build if prev else None
    if b is not None and b != pb:
        if b.step and (pb is None or pb.step != b.step):
            out.append(Event("build", res.name, {"phase": "step", "step": b.step}))
        elif not b.step and b.ref:
            out.append(
                Event(
                    "build",
                    res.name,
                    {
                        "phase": "done",
                        "ref": b.ref,
                        "reused": b.reused,
                        "duration": round(b.duration, 3),
                    },
                )
            )
    if res.last_update and res.last_update != (prev.last_update if prev else ""):
        out.append(Event("sync", res.name, {"message": res.last_update}))
    before = {f.local: f.state for f in prev.forwards} if prev else {}
    for f in res.forwards:
        if before.get(f.local) != f.state:
            out.append(
                Event(
                    "forward",
                    res.name,
                    {
                        "local": f.local,
                        "remote": f.remote,
                        "host": f.host,
                        "state": f.state,
                        "url": f"http://localhost:{f.local}",
                    },
                )
            )
    return out


def log_event(line: LogLine) -> Event:
    return Event("log", line.resource, {"source": line.source, "text": line.text}, line.time)


def no_color_env() -> bool:
    """https://no-color.org: any non-empty NO_COLOR disables colour."""
    return bool(os.environ.get("NO_COLOR"))


def color_enabled(stream: IO[str]) -> bool:
    """Colour only for a terminal, and never under NO_COLOR."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not no_color_env()


@lru_cache(maxsize=256)
def _paint(text: str, style: str) -> str:
    return Style.parse(style).render(text, color_system=ColorSystem.STANDARD)


class _Writer(ABC):
    """Shared plumbing: subscribe, diff states, write lines, coalesce flushes per loop turn."""

    def __init__(self, stream: IO[str], clock: Callable[[], float] = time.time) -> None:
        self._stream = stream
        self._clock = clock
        self._last = EngineState()
        self._closed = False
        self._flush_pending = False

    def attach(self, store: Store, logs: LogStore) -> None:
        """Follow ``store`` (state events) and ``logs`` (log lines) from now on."""
        store.subscribe(self.on_state)
        logs.listen(self.on_log)

    def on_state(self, state: EngineState, batch: Sequence[Action] = ()) -> None:
        old, self._last = self._last, state
        for ev in events_between(old, state):
            self.emit(ev)

    def on_log(self, line: LogLine) -> None:
        self.emit(log_event(line))

    @abstractmethod
    def emit(self, event: Event) -> None:
        """Write one event in this writer's format."""

    def _write(self, text: str) -> None:
        if self._closed:
            return
        try:
            self._stream.write(text + "\n")
        except (OSError, ValueError):  # reader went away (`| head`), terminal gone, or closed
            self._closed = True
            return
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._flush_pending = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_pending = False
        if self._closed:
            return
        try:
            self._stream.flush()
        except (OSError, ValueError):
            self._closed = True


class JsonOutput(_Writer):
    """One JSON object per line per event (format: docs/output.md)."""

    def emit(self, event: Event) -> None:
        when = event.time if event.time is not None else self._clock()
        obj: dict[str, Any] = {"type": event.type, "time": iso_time(when)}
        if event.resource:
            obj["resource"] = event.resource
        obj.update({k: scrub(v) if isinstance(v, str) else v for k, v in event.data.items()})
        self._write(json.dumps(obj, ensure_ascii=False))


def iso_time(t: float) -> str:
    stamp = datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


class PlainOutput(_Writer):
    """``name │ text`` lines for logs and state changes; colour optional, never under NO_COLOR."""

    def __init__(
        self, stream: IO[str], color: bool = False, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(stream, clock)
        self.color = color and not no_color_env()
        self._width = 0
        self._colors: dict[str, str] = {}
        self._said = Said()

    def on_state(self, state: EngineState, batch: Sequence[Action] = ()) -> None:
        self._width = max([self._width, *(len(n) for n in state.order)])
        for i, name in enumerate(state.order):
            self._colors.setdefault(name, resource_style(i))
        super().on_state(state, batch)

    def emit(self, event: Event) -> None:
        if self._said.repeats(event):
            return
        body, style = plain_text(event)
        if not body:
            return
        body = scrub(body if self.color else strip_ansi(body))
        name = (event.resource or "loopdev").ljust(self._width)
        if self.color:
            name = _paint(name, self._colors.get(event.resource, "bold"))
            body = _paint(body, style) if style else body
        self._write(f"{name} {SEP} {body}")


_NAMED = re.compile(r"^(\w+) [^\s:]+: ")  # "rebuilding web: why" says "rebuilding: why"


class Said:
    """What plain lines already told, so one piece of news is one line (pure bookkeeping).

    A live update is narrated twice, as a ``loopdev`` log line and as the resource's
    ``last_update`` (a ``sync`` event); a build step is a line of build output and again the
    ``build`` step event, which can come a few output lines later (state changes are
    batched per loop turn, log lines are not). Plain output prints whichever comes first
    and drops its twin.
    JSON keeps both: they are different event types a reader selects between.
    """

    def __init__(self) -> None:
        self._news: dict[str, str] = {}  # resource -> last narration (log) not yet twinned
        self._synced: dict[str, str] = {}  # resource -> last sync message not yet twinned
        self._steps: dict[str, set[str]] = {}  # resource -> step headers its build printed

    def repeats(self, event: Event) -> bool:
        """Whether ``event`` repeats a line already printed (and forget that line if so)."""
        d, res = event.data, event.resource
        if event.type == "log" and d.get("source") == "build":
            text = str(d.get("text", ""))
            if step_of(text) is not None:  # the step event may come after more output lines
                self._steps.setdefault(res, set()).add(text[:STEP_CHARS])
        elif event.type == "build" and d.get("phase") == "step":
            return str(d.get("step", ""))[:STEP_CHARS] in self._steps.get(res, set())
        elif event.type == "build":  # the build ended: its steps are told
            self._steps.pop(res, None)
        elif event.type == "log" and d.get("source") == "loopdev":
            text = _NAMED.sub(r"\1: ", str(d.get("text", "")))
            if self._synced.get(res) == text:
                del self._synced[res]
                return True
            self._news[res] = text
        elif event.type == "sync":
            message = str(d.get("message", ""))
            if self._news.get(res) == message:
                del self._news[res]
                return True
            self._synced[res] = message
        return False


def plain_text(event: Event) -> tuple[str, str]:
    """The text after the prefix for an event, and the style to paint it (pure)."""
    d = event.data
    if event.type == "log":
        return f"{d['source']} {SEP} {d['text']}", ""
    if event.type == "state":
        text = f"{d['state']}: {d['reason']}" if d["reason"] else str(d["state"])
        if d["pods_total"]:
            text += f" · {d['pods_ready']}/{d['pods_total']} pods"
        if d["restarts"]:
            text += f" · {d['restarts']} restarts"
        return text, state_style(str(d["state"]))
    if event.type == "build":
        if d["phase"] == "step":
            return f"building: {d['step']}", "yellow"
        verb = "reused" if d["reused"] else "built"
        return f"{verb} {d['ref']} in {d['duration']:.1f}s", "green"
    if event.type == "sync":
        return str(d["message"]), ""
    if event.type == "forward":
        return f"forward localhost:{d['local']} -> {d['remote']}: {d['state']}", ""
    if event.type == "session":
        profiles = ",".join(d["profiles"]) or "-"
        return (
            f"project {d['project']} · context {d['context']} · namespace "
            f"{d['namespace']} · profiles {profiles}"
        ), "bold"
    if event.type == "cluster":
        return ("cluster reachable" if d["reachable"] else "cluster unreachable"), (
            "green" if d["reachable"] else "bold red"
        )
    if event.type == "config":
        if d["error"]:
            problems = "; ".join(line.strip() for line in str(d["error"]).splitlines())
            return f"loopfile not reloaded: {problems} (the last good config runs)", "bold red"
        return "loopfile valid again", "green"
    if event.type == "removed":
        return "removed", "dim"
    return "", ""
