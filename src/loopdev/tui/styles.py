"""State colours shared by the dashboard and plain output, so both read the same way."""

from __future__ import annotations

import re

from loopdev.engine.state import FAILED_STATES

_IN_PROGRESS = frozenset({"building", "deploying", "updating"})
_WARNING = frozenset({"probe-failing", "cluster-unreachable"})

# Rich style names; the dashboard drops them all under NO_COLOR.
# No reds, greens or yellows: those mean failing, ready and busy.
RESOURCE_PALETTE = (
    "cyan",
    "dodger_blue1",
    "medium_purple1",
    "turquoise2",
    "light_slate_blue",
    "sky_blue1",
    "plum2",
)


def state_style(state: str) -> str:
    """The Rich style a state is shown in: green ready, red failed, yellow busy."""
    if state == "ready":
        return "green"
    if state in FAILED_STATES:
        return "bold red"
    if state in _IN_PROGRESS:
        return "yellow"
    if state in _WARNING:
        return "magenta"
    return "dim"


def resource_style(index: int) -> str:
    """A stable per-resource colour for name prefixes (as docker compose does)."""
    return RESOURCE_PALETTE[index % len(RESOURCE_PALETTE)]


# CSI sequences (colours, cursor moves) and OSC sequences (titles, links) that programs
# write into their logs; shown raw they become "�[32m" noise.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    """``text`` without terminal escape sequences (a no-op for the usual plain line)."""
    return _ANSI.sub("", text) if "\x1b" in text else text
