"""Widgets that render view-model rows cheaply: cell-level table updates, batched log appends."""

from __future__ import annotations

from collections.abc import Sequence

from rich.highlighter import Highlighter
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable, Log

from loopdev.tui.styles import resource_style
from loopdev.tui.viewmodel import SEP, Cell, Column


def cell_text(cell: Cell) -> Text:
    style = Style.parse(cell.style) if cell.style else Style()
    if cell.link:
        style += Style(link=cell.link)
    return Text(cell.text, style=style, no_wrap=True, overflow="ellipsis")


class ResourceTable(DataTable[Text]):
    """The resource table. ``show`` diffs rows and touches only cells that changed."""

    BINDINGS = [Binding("enter", "select_cursor", "details")]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._shown: dict[str, tuple[Cell, ...]] = {}
        self._columns: tuple[Column, ...] = ()
        self.cell_updates = 0  # how many cells were rewritten (tests check we stay incremental)

    @property
    def selected(self) -> str | None:
        """The resource under the cursor."""
        if not self.row_count:
            return None
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)

    def show(self, rows: dict[str, tuple[Cell, ...]], columns: tuple[Column, ...]) -> None:
        if columns != self._columns or list(rows) != list(self._shown):
            self._rebuild(rows, columns)
            return
        for name, cells in rows.items():
            old = self._shown[name]
            for col, new_cell, old_cell in zip(columns, cells, old, strict=True):
                if new_cell != old_cell:
                    self.update_cell(name, col.key, cell_text(new_cell), update_width=True)
                    self.cell_updates += 1
        self._shown = dict(rows)

    def _rebuild(self, rows: dict[str, tuple[Cell, ...]], columns: tuple[Column, ...]) -> None:
        """Columns or the set/order of resources changed (rare): redraw, keep the selection."""
        keep = self.selected
        self.clear(columns=columns != self._columns)
        if columns != self._columns:
            for col in columns:
                self.add_column(col.label, key=col.key)
        for name, cells in rows.items():
            self.add_row(*(cell_text(c) for c in cells), key=name)
        self._columns, self._shown = columns, dict(rows)
        if keep in rows:
            self.move_cursor(row=list(rows).index(keep))


class PrefixHighlighter(Highlighter):
    """Colours the ``name │`` prefix of each log line, per resource, at render time only
    (only visible lines are ever highlighted, so a flood costs nothing here)."""

    def __init__(self) -> None:
        self.colors: dict[str, str] = {}

    def highlight(self, text: Text) -> None:
        cut = text.plain.find(SEP)
        if cut <= 0:
            return
        name = text.plain[:cut].strip()
        text.stylize(self.colors.get(name, "cyan"), 0, cut)
        text.stylize("dim", cut, cut + 1)


class LogPane(Log):
    """A bounded log view; lines arrive in batches from the app's drain timer."""

    def __init__(self, max_lines: int, **kwargs: object) -> None:
        super().__init__(highlight=True, max_lines=max_lines, **kwargs)  # type: ignore[arg-type]
        self.highlighter = PrefixHighlighter()

    def set_colors(self, order: Sequence[str]) -> None:
        for i, name in enumerate(order):
            self.highlighter.colors.setdefault(name, resource_style(i))  # type: ignore[attr-defined]

    def replace(self, lines: list[str]) -> None:
        self.clear()
        if lines:
            self.write_lines(lines)
        # Before the first layout the pane has no height, so "scroll to the end" is a no-op;
        # redo it once laid out, or following would be off from the start.
        self.call_after_refresh(self.scroll_end, animate=False, immediate=True)
