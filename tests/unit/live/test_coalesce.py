from __future__ import annotations

from loopdev.live.coalesce import Coalescer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_quiet_window_flushes_after_last_event() -> None:
    clock = Clock()
    c = Coalescer(quiet=0.01, max_window=0.2, clock=clock)
    assert c.deadline() is None and not c.due()
    c.add(["a"])
    clock.now += 0.005
    c.add(["b"])
    assert c.deadline() == 100.015
    clock.now += 0.009
    assert not c.due()
    clock.now += 0.002
    assert c.due()
    assert c.take() == (frozenset({"a", "b"}), frozenset())
    assert not c.pending


def test_max_window_caps_a_long_burst() -> None:
    clock = Clock()
    c = Coalescer(quiet=0.01, max_window=0.05, clock=clock)
    for _ in range(10):
        c.add(["x"])
        clock.now += 0.008
        if c.due():
            break
    assert c.due()
    assert clock.now - 100.0 < 0.06


def test_latest_event_wins_and_transients_vanish() -> None:
    c = Coalescer(clock=Clock())
    c.add(changed=["kept"], deleted=["gone"])
    c.add(added=["gone"])  # re-created after deletion: a change
    c.add(added=["tmp"])
    c.add(deleted=["tmp", "kept"])  # an editor's temp file, and a real deletion
    assert c.take() == (frozenset({"gone"}), frozenset({"kept"}))
