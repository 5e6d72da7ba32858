"""The dashboard: reads ``store.state`` and the LogStore, sends commands by dispatching actions.

It runs in the engine's own event loop, so it must never do slow work per event: log lines
are queued by a cheap listener and drained into the pane every 100 ms in one batch; the
table is refreshed on the same tick only when the state version changed (or once a second
for ages), and only changed cells are rewritten.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Literal

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from loopdev.engine.actions import ShutdownRequested, TriggerRequested
from loopdev.engine.logs import LogLine, LogStore
from loopdev.engine.store import Store
from loopdev.tui import viewmodel as vm
from loopdev.tui.events import EventsSource, kube_events
from loopdev.tui.screens import ConfirmScreen, DetailsScreen, HelpScreen
from loopdev.tui.widgets import LogPane, ResourceTable

__all__ = ["Dashboard", "EventsSource", "Exit", "kube_events", "run_dashboard"]

Exit = Literal["quit", "down"]
TICK = 0.1  # seconds between log drains / table refreshes
AGE_REFRESH = 1.0
MAIN_ONLY = frozenset(
    {"trigger", "rebuild", "logs_selected", "logs_all", "filter", "follow", "down"}
)


class Dashboard(App[Exit]):
    CSS = """
    #resources { height: auto; max-height: 45%; overflow-x: hidden; }
    #status, #logtitle { height: 1; padding: 0 1; }
    #logtitle { background: $boost; }
    #logs { height: 1fr; overflow: auto auto; }
    #filter { dock: bottom; display: none; }
    #filter.visible { display: block; }
    HelpScreen, ConfirmScreen { align: center middle; }
    #help { width: 72; height: auto; border: round $accent; padding: 1 2; background: $surface; }
    #confirm { grid-size: 2; grid-gutter: 1 2; grid-rows: auto 3; width: 64; height: auto;
               border: thick $error; padding: 1 2; background: $surface; }
    #question { column-span: 2; width: 1fr; }
    #details { padding: 0 1; }
    """
    BINDINGS = [
        Binding("r", "trigger", "trigger"),
        Binding("R", "rebuild", "rebuild", show=False),
        Binding("l", "logs_selected", "logs"),
        Binding("a", "logs_all", "all logs"),
        Binding("slash", "filter", "filter"),
        Binding("f", "follow", "follow", show=False),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit_keep", "quit"),
        Binding("D", "down", "down+quit"),
        Binding("ctrl+c", "quit_keep", "quit", show=False, priority=True),
    ]
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        store: Store,
        logs: LogStore,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_log_lines: int = 2000,
        events: EventsSource | None = None,
    ) -> None:
        super().__init__()
        self.store, self.logs, self.clock = store, logs, clock
        self.events_source = events
        self.max_log_lines = max_log_lines
        self.log_resource: str | None = None  # None: all resources interleaved
        self.log_query = ""
        self.follow = True
        self._pending: deque[LogLine] = deque(maxlen=max_log_lines)
        self._version = -1
        self._refreshed_at = 0.0
        self._name_width = 0
        self._unlisten: Callable[[], None] | None = None
        # Kept as attributes: queries would search whichever screen is on top.
        self.table = ResourceTable(id="resources")
        self.log_pane = LogPane(max_log_lines, id="logs")
        self._status = Static("", id="status", markup=False)
        self._logtitle = Static("", id="logtitle", markup=False)
        self._filter = Input(placeholder="filter logs (enter applies, escape clears)", id="filter")

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="⟳")
        yield self.table
        yield self._status
        yield self._logtitle
        yield self.log_pane
        yield self._filter
        yield Footer()

    def on_mount(self) -> None:
        self._unlisten = self.logs.listen(self._on_log)
        self.refresh_table(force=True)
        self._refill_logs()
        self.set_interval(TICK, self.tick)
        self.table.focus()

    def on_resize(self) -> None:
        self.refresh_table(force=True)

    def on_unmount(self) -> None:
        if self._unlisten is not None:
            self._unlisten()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Main-screen commands are hidden and disabled while details/help/confirm show."""
        return not (action in MAIN_ONLY and len(self.screen_stack) > 1)

    # --- reading -------------------------------------------------------------------------
    def _on_log(self, line: LogLine) -> None:
        """Called synchronously by LogStore.append for every line: keep it O(1)."""
        if vm.matches(line, self.log_resource, self.log_query):
            self._pending.append(line)

    def tick(self) -> None:
        self.drain_logs()
        self.refresh_table()

    def drain_logs(self) -> None:
        if not self._pending:
            return
        batch = [vm.format_log(ln, self.log_resource, self._name_width) for ln in self._pending]
        self._pending.clear()
        pane = self.log_pane
        # Log follows only while the view is at the bottom: scrolling up to read pauses it.
        at_end = pane.is_vertical_scroll_end
        pane.write_lines(batch, scroll_end=self.follow)
        self._update_log_title(at_end)

    def refresh_table(self, force: bool = False) -> None:
        state, now = self.store.state, self.clock()
        if not force and state.version == self._version and now - self._refreshed_at < AGE_REFRESH:
            return
        self._version, self._refreshed_at = state.version, now
        width = self.size.width or 80
        self.table.show(vm.rows(state, now, width), vm.columns_for_width(width))
        self.title, self.sub_title = vm.header(state)
        self._set(self._status, Text(*vm.status_line(state)))
        self._name_width = max((len(n) for n in state.order), default=0)
        self.log_pane.set_colors(state.order)
        self._update_log_title()

    def _refill_logs(self) -> None:
        self._pending.clear()
        lines = vm.log_view(
            self.logs.lines(self.log_resource),
            self.log_resource,
            self.log_query,
            self.max_log_lines,
            self._name_width,
        )
        self.log_pane.replace(lines)
        self._update_log_title()

    def _update_log_title(self, at_end: bool = True) -> None:
        parts = [f"logs: {self.log_resource or 'all resources'}"]
        if self.log_query:
            parts.append(f'filter "{self.log_query}"')
        if not self.follow:
            parts.append("paused (f to follow)")
        else:
            parts.append("following" if at_end else "scrolled up (f to follow)")
        self._set(self._logtitle, Text(" · ".join(parts)))

    @staticmethod
    def _set(widget: Static, text: Text) -> None:
        """Update a one-line Static only when its content changed (an update re-lays out)."""
        if getattr(widget, "_shown_text", None) != text:
            widget._shown_text = text  # type: ignore[attr-defined]
            widget.update(text)

    # --- commands -----------------------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_details()

    def action_details(self) -> None:
        name = self.table.selected
        if name is None:
            return

        def render(events: Sequence[str] | None) -> str:
            res = self.store.state.resource(name)
            if res is None:
                return f"{name}: removed"
            return vm.details(res, self.clock(), lambda src: self._tail(name, src), events)

        source = self.events_source
        fetch = None if source is None else (lambda: source(name))
        self.push_screen(DetailsScreen(name, render, lambda: self._trigger(name, False), fetch))

    def _tail(self, name: str, source: str, n: int = 30) -> list[LogLine]:
        return [ln for ln in self.logs.lines(name) if ln.source == source][-n:]

    def _trigger(self, name: str, rebuild: bool) -> None:
        self.store.dispatch(TriggerRequested(name, force_rebuild=rebuild))
        self.notify(f"{'rebuild' if rebuild else 'update'} requested for {name}", timeout=2)

    def action_trigger(self) -> None:
        if (name := self.table.selected) is not None:
            self._trigger(name, False)

    def action_rebuild(self) -> None:
        if (name := self.table.selected) is not None:
            self._trigger(name, True)

    def action_logs_selected(self) -> None:
        self.log_resource = self.table.selected
        self._refill_logs()

    def action_logs_all(self) -> None:
        self.log_resource = None
        self._refill_logs()

    def action_follow(self) -> None:
        """Scrolled up: jump back to the end and follow. At the end: pause/resume following."""
        pane = self.log_pane
        if self.follow and not pane.is_vertical_scroll_end:
            pane.scroll_end(animate=False, immediate=True)
        else:
            self.follow = not self.follow
            if self.follow:
                pane.scroll_end(animate=False, immediate=True)
        pane.auto_scroll = self.follow
        self._update_log_title()

    def action_filter(self) -> None:
        box = self._filter
        box.value = self.log_query
        box.add_class("visible")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._close_filter(event.value.strip())

    def key_escape(self) -> None:
        if self._filter.has_class("visible"):
            self._close_filter("")

    def _close_filter(self, query: str) -> None:
        self._filter.remove_class("visible")
        self.log_query = query
        self._refill_logs()
        self.table.focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_quit_keep(self) -> None:
        """Leave the dashboard; deployed resources keep running."""
        self.store.dispatch(ShutdownRequested(down=False))
        self.exit("quit")

    def action_down(self) -> None:
        project = self.store.state.project or "this project"

        def answered(yes: bool | None) -> None:
            if yes:
                self.store.dispatch(ShutdownRequested(down=True))
                self.exit("down")

        question = f"Delete everything loopdev deployed for {project}, then quit?"
        self.push_screen(ConfirmScreen(question), answered)


async def run_dashboard(
    store: Store,
    logs: LogStore,
    *,
    clock: Callable[[], float] = time.monotonic,
    events: EventsSource | None = None,
) -> Exit:
    """Run the dashboard in the current event loop (next to the engine) until the user quits.

    ``events`` feeds the details view's "recent events" (see ``kube_events``). Returns "quit"
    (leave resources running) or "down" (the user confirmed tearing down); a matching
    ShutdownRequested has been dispatched either way.
    """
    app = Dashboard(store, logs, clock=clock, events=events)
    result = await app.run_async()
    return result or "quit"
