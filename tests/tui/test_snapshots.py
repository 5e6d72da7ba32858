"""SVG snapshots of the main screen (pytest-textual-snapshot); ages come from a fixed clock.

Update after an intended change with: pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from loopdev.redact import REDACTOR
from loopdev.tui.app import Dashboard
from tests.tui.demo import SECRET, clock, example_store

SnapCompare = Callable[..., bool]


@pytest.fixture(autouse=True)
def _secret() -> Iterator[None]:
    REDACTOR.add(SECRET)
    yield
    REDACTOR.clear()


def _app() -> Dashboard:
    store, logs = example_store()
    return Dashboard(store, logs, clock=clock)


def test_main_screen_80x24(snap_compare: SnapCompare) -> None:
    assert snap_compare(_app(), terminal_size=(80, 24))


def test_main_screen_160x48(snap_compare: SnapCompare) -> None:
    assert snap_compare(_app(), terminal_size=(160, 48))


def test_details_80x24(snap_compare: SnapCompare) -> None:
    assert snap_compare(_app(), terminal_size=(80, 24), press=["down", "down", "enter"])
