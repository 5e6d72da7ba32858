"""Modal screens: resource details, help, and the confirmation before `down`."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Header, Label, Static

Render = Callable[[Sequence[str] | None], str]  # events (None: not fetched) -> text
FetchEvents = Callable[[], Awaitable[Sequence[str]]]
EVENTS_EVERY = 3.0  # seconds between cluster event fetches while details are open


_HEADINGS = re.compile(r"^(objects|recent events|last error|last build output)$", re.M)


def styled(details: str) -> Text:
    """The details text with its title and section headings emphasised."""
    text = Text(details)
    text.stylize("bold", 0, details.find("\n") if "\n" in details else len(details))
    text.highlight_regex(_HEADINGS, "bold underline")
    return text


class DetailsScreen(Screen[None]):
    """Everything about one resource, in full: objects, events, last error, build output.

    Cluster events are fetched in a worker (never blocking the loop) while the screen is open.
    """

    BINDINGS = [
        Binding("escape,q,enter", "app.pop_screen", "back"),
        Binding("r", "trigger", "trigger"),
    ]

    def __init__(
        self,
        name: str,
        render: Render,
        trigger: Callable[[], None],
        fetch_events: FetchEvents | None = None,
    ) -> None:
        super().__init__()
        self.resource = name
        self._render_text = render
        self._trigger = trigger
        self._fetch = fetch_events
        self.events: list[str] | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="⟳")
        with VerticalScroll():
            yield Static(styled(self._render_text(self.events)), id="details", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(0.5, self.refresh_details)
        if self._fetch is not None:
            self.poll_events()
            self.set_interval(EVENTS_EVERY, self.poll_events)

    def poll_events(self) -> None:
        self.run_worker(self._load_events(), group="events", exclusive=True)

    async def _load_events(self) -> None:
        assert self._fetch is not None
        try:
            self.events = list(await self._fetch())
        except Exception as err:  # noqa: BLE001 - shown, never fatal for the dashboard
            self.events = [f"(events unavailable: {getattr(err, 'message', None) or err})"]
        self.refresh_details()

    def refresh_details(self) -> None:
        self.query_one("#details", Static).update(styled(self._render_text(self.events)))

    def action_trigger(self) -> None:
        self._trigger()


HELP = """\
enter   details of the selected resource
r       trigger an update now (manual resources); R forces a rebuild
l       logs of the selected resource
a       all logs, interleaved
/       filter logs (enter applies, escape clears)
f       follow logs: back to the end, or pause/resume
q       quit — resources keep running
D       down: delete what loopdev deployed, then quit (asks first)
?       this help"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "app.pop_screen", "close")]

    def compose(self) -> ComposeResult:
        yield Static(HELP, id="help", markup=False)


class ConfirmScreen(ModalScreen[bool]):
    """Yes/no; dismisses with True only on an explicit yes."""

    BINDINGS = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Grid(id="confirm"):
            yield Label(self.question, id="question")
            yield Button("Yes, down (y)", variant="error", id="yes")
            yield Button("No (n)", variant="primary", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
