"""Pure state -> rows for the dashboard: no Textual here, so every cell is unit-testable.

Widgets diff these rows against what they show and update only changed cells, which is
what keeps the table cheap while logs flood in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from loopdev.engine.logs import LogLine
from loopdev.engine.state import FAILED_STATES, EngineState, ForwardInfo, ResourceStatus
from loopdev.redact import scrub
from loopdev.tui.styles import state_style, strip_ansi

SEP = "│"
WIDE = 120  # at or above this width every column fits; below, the table drops the extras


@dataclass(frozen=True)
class Cell:
    text: str
    style: str = ""
    link: str = ""  # a URL the terminal may make clickable


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    wide_only: bool = False


COLUMNS = (
    Column("name", "NAME"),
    Column("kind", "KIND", wide_only=True),
    Column("state", "STATE"),
    Column("build", "BUILD"),
    Column("pods", "PODS"),
    Column("forwards", "FORWARDS"),
    Column("update", "LAST UPDATE", wide_only=True),
)


def columns_for_width(width: int) -> tuple[Column, ...]:
    """The columns that fit: all of them on a wide terminal, the essentials at 80."""
    return tuple(c for c in COLUMNS if width >= WIDE or not c.wide_only)


def format_age(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def budgets(width: int) -> dict[str, int]:
    """Maximum characters per column so the visible columns fit ``width`` (2 cells of padding
    each): 80 columns get the essentials; extra width goes to state, build and update."""
    if width < WIDE:
        extra = max(0, width - 80) // 2
        return {"name": 12, "state": 22 + extra, "build": 14 + extra, "pods": 6, "forwards": 14}
    extra = (width - WIDE) // 4  # the state (with its reason) gets two shares
    return {
        "name": 12, "kind": 8, "state": 22 + 2 * extra, "build": 22 + extra,
        "pods": 6, "forwards": 14, "update": 22 + extra,
    }  # fmt: skip


def resource_cells(res: ResourceStatus, now: float, width: int) -> dict[str, Cell]:
    """Every cell of one resource's row, keyed by column key, each within its budget."""
    room = budgets(width)
    age = f" ({format_age(now - res.since)})" if res.since else ""
    state = res.state + (f": {scrub(res.reason)}" if res.reason else "")
    state += " *" if res.pending_changes else ""
    state = truncate(state, room["state"] - len(age)) + age
    pods = f"{res.pods_ready}/{res.pods_total}" if res.pods_total else "-"
    if res.restarts:
        pods += f" ↻{res.restarts}"
    fwd = next(iter(res.forwards), None)
    fwd_text = "-" if fwd is None else f"localhost:{fwd.local}"
    if len(res.forwards) > 1:
        fwd_text += f" +{len(res.forwards) - 1}"
    return {
        "name": Cell(truncate(res.name, room["name"]), "bold"),
        "kind": Cell(res.kind),
        "state": Cell(state, state_style(res.state)),
        "build": build_cell(res, room["build"]),
        "pods": Cell(truncate(pods, room["pods"]), "red" if res.restarts else ""),
        "forwards": Cell(
            truncate(fwd_text, room["forwards"] + 3),
            forward_style(res.forwards),
            f"http://localhost:{fwd.local}" if fwd is not None else "",
        ),
        "update": Cell(truncate(scrub(res.last_update), room.get("update", 16)) or "-", "dim"),
    }


def forward_style(forwards: tuple[ForwardInfo, ...]) -> str:
    """Red when a local port cannot be bound (the forward has failed), dim while the first
    forward (the one shown) is not listening yet."""
    if any(f.listen_error for f in forwards):
        return "red"
    return "" if not forwards or forwards[0].state == "listening" else "dim"


def build_cell(res: ResourceStatus, limit: int) -> Cell:
    b = res.build
    if b is None:
        return Cell("-", "dim")
    if b.step:
        return Cell(truncate(f"» {scrub(b.step)}", limit), "yellow")
    if not b.ref:
        return Cell("-", "dim")
    verb = "reused" if b.reused else "built"
    return Cell(truncate(f"{verb} {short_tag(b.ref)} {b.duration:.1f}s", limit))


def short_tag(ref: str) -> str:
    """The part of an image reference worth a table cell: the tag, and of loopdev's content
    tags ("loopdev-<16 hex>") 12 hex digits. The details view shows the full reference."""
    repo, _, tag = ref.rpartition(":")
    if "/" in tag or not repo:  # no tag, just a registry port
        return ref
    return tag.removeprefix("loopdev-")[:12]


def rows(state: EngineState, now: float, width: int) -> dict[str, tuple[Cell, ...]]:
    """name -> the row's cells for the visible columns, in display order."""
    cols = columns_for_width(width)
    out: dict[str, tuple[Cell, ...]] = {}
    for name in state.order:
        res = state.resources.get(name)
        if res is not None:
            cells = resource_cells(res, now, width)
            out[name] = tuple(cells[c.key] for c in cols)
    return out


def header(state: EngineState) -> tuple[str, str]:
    """(title, subtitle) for the header bar."""
    profiles = ",".join(state.profiles) or "-"
    sub = f"ctx {state.context or '-'} · ns {state.namespace or '-'} · profiles {profiles}"
    return f"loopdev · {state.project or '-'}", sub


def status_line(state: EngineState) -> tuple[str, str]:
    """One line of what is happening now: cluster trouble first, then builds in progress."""
    if not state.cluster_reachable:
        return "cluster unreachable: retrying…", "bold red"
    if state.config_error:
        first = state.config_error.splitlines()[0]
        return f"loopfile not reloaded: {first} (the last good config runs)", "bold red"
    busy = [
        f"{r.name}: {scrub(r.build.step)}"
        for r in (state.resources.get(n) for n in state.order)
        if r is not None and r.build is not None and r.build.step
    ]
    if busy:
        return "building " + " · ".join(busy), "yellow"
    failing = [n for n in state.order if state.resources[n].state in FAILED_STATES]
    if failing:
        return f"failing: {', '.join(failing)} (enter for details)", "red"
    pending = [n for n in state.order if state.resources[n].pending_changes]
    if pending:
        return f"changes pending: {', '.join(pending)} (r to apply)", "yellow"
    total = len(state.order)
    ready = sum(1 for r in state.resources.values() if r.state == "ready")
    return f"{ready}/{total} ready", "green" if total and ready == total else ""


def format_log(line: LogLine, resource: str | None, width: int = 0) -> str:
    """A log line for the pane: ``name │ text`` when interleaved, ``source │ text`` for one."""
    prefix = line.source if resource is not None else line.resource.ljust(width)
    return f"{prefix} {SEP} {scrub(strip_ansi(line.text))}"


def matches(line: LogLine, resource: str | None, query: str) -> bool:
    if resource is not None and line.resource != resource:
        return False
    # Match what is shown: searching for a secret value must not reveal which lines hold it.
    return not query or query.lower() in scrub(line.text).lower()


def log_view(
    lines: Iterable[LogLine], resource: str | None, query: str, limit: int, width: int = 0
) -> list[str]:
    """The last ``limit`` matching lines, formatted (used to refill the pane on a view change)."""
    picked = [ln for ln in lines if matches(ln, resource, query)][-limit:]
    return [format_log(ln, resource, width) for ln in picked]


def details(
    res: ResourceStatus,
    now: float,
    log_tail: Callable[[str], list[LogLine]],
    events: Sequence[str] | None = None,
) -> str:
    """The details view as plain text: objects, recent events, last error, last build output.

    ``events`` are cluster events fetched for the resource's objects (None: not fetched; the
    LogStore's ``event`` lines are shown instead)."""
    b = res.build
    parts = [
        f"{res.name} ({res.kind})",
        f"state      {res.state}{': ' + scrub(res.reason) if res.reason else ''}"
        f"{f' for {format_age(now - res.since)}' if res.since else ''}",
        f"pods       {res.pods_ready}/{res.pods_total} ready, {res.restarts} restarts",
    ]
    if b is not None:
        what = f"building: {b.step}" if b.step else f"{'reused' if b.reused else 'built'} {b.ref}"
        parts.append(f"build      {scrub(what)} ({b.duration:.1f}s)")
    for f in res.forwards:
        parts.append(f"forward    localhost:{f.local} -> {f.remote} ({f.state})")
    if res.last_update:
        parts.append(f"last update {scrub(res.last_update)}")
    if res.depends_on:
        parts.append(f"depends on {', '.join(res.depends_on)}")
    parts += ["", "objects", *(f"  {o}" for o in res.objects or ("(none yet)",))]
    shown = list(events) if events is not None else [e.text for e in log_tail("event")]
    parts += ["", "recent events", *(f"  {scrub(e)}" for e in shown or ("(none)",))]
    parts += ["", "last error", f"  {scrub(res.last_error) or '(none)'}"]
    build_out = [scrub(x.text) for x in log_tail("build")] or ["(none)"]
    parts += ["", "last build output", *(f"  {x}" for x in build_out)]
    return "\n".join(parts)
