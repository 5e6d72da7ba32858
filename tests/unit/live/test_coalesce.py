from __future__ import annotations

from loopdev.live.coalesce import Coalescer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_single_save_flushes_one_quiet_window_after_its_event() -> None:
    clock = Clock()
    c = Coalescer(quiet=0.005, max_window=0.2, clock=clock)
    assert c.deadline() is None and not c.due()
    c.add(["a"])
    assert c.deadline() == 100.005
    clock.now += 0.004
    assert not c.due()
    clock.now += 0.001
    assert c.due()
    assert c.take() == (frozenset({"a"}), frozenset())
    assert not c.pending and c.deadline() is None


def test_a_burst_waits_the_longer_quiet_window() -> None:
    clock = Clock()
    c = Coalescer(quiet=0.005, max_window=1.0, burst_quiet=0.03, clock=clock)
    c.add(["a"])
    clock.now += 0.004
    c.add(["b"])  # a second raw batch: this is a burst
    assert abs(c.deadline() - (clock.now + 0.03)) < 1e-9
    for _ in range(5):
        clock.now += 0.02
        c.add(["c"])
        assert not c.due()
    assert c.take()[0] == frozenset({"a", "b", "c"})
    c.add([f"f{i}" for i in range(10)])  # one raw batch with many paths: also a burst
    assert abs(c.deadline() - (clock.now + 0.03)) < 1e-9


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
