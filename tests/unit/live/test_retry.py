"""The retry decision after a failed sync or replay: pure functions over plain data."""

from __future__ import annotations

from loopdev.live.retry import Backoff, Failure, RetryBook, Verdict, after_failure, decide


def test_backoff_doubles_up_to_the_cap() -> None:
    b = Backoff(base=1.0, cap=10.0)
    assert [b.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_nothing_failed_or_something_changed_tries_now() -> None:
    assert decide(None, 3, now=0.0) == Verdict(True)
    settled = Failure(version=3, exit_code=67, failures=2, at=0.0, settled=True)
    assert decide(settled, 4, now=0.0) == Verdict(True)  # a new change


def test_a_failure_waits_out_its_backoff() -> None:
    b = Backoff(base=1.0, cap=60.0)
    last = Failure(version=3, exit_code=-1, failures=3, at=100.0)
    assert decide(last, 3, now=103.9, backoff=b) == Verdict(False, 104.0)
    assert decide(last, 3, now=104.0, backoff=b) == Verdict(True)


def test_the_same_exit_code_twice_with_nothing_changed_settles() -> None:
    first = after_failure(None, 3, 67, now=10.0)
    assert first == Failure(3, 67, 1, 10.0) and not first.settled
    second = after_failure(first, 3, 67, now=11.0)
    assert second.settled and second.failures == 2
    assert decide(second, 3, now=1e9) == Verdict(False, None)  # only a change or a new pod


def test_another_exit_code_or_another_version_does_not_settle() -> None:
    first = after_failure(None, 3, 67, now=10.0)
    assert not after_failure(first, 3, 66, now=11.0).settled
    assert after_failure(first, 4, 67, now=11.0) == Failure(4, 67, 1, 11.0)


def test_failures_without_an_exit_code_never_settle() -> None:
    record = None
    for i in range(10):
        record = after_failure(record, 3, -1, now=float(i))
    assert record is not None and not record.settled and record.failures == 10
    assert decide(record, 3, now=9.0 + 59.9) == Verdict(False, 9.0 + 60.0)  # at the cap


def test_book_splits_due_keys_and_forgets_gone_containers() -> None:
    book = RetryBook(Backoff(base=2.0, cap=60.0))
    book.failed("a", 1, -1, now=0.0)
    book.failed("b", 1, -1, now=1.0)
    assert book.split(["a", "b", "c"], 1, now=2.5) == (["a", "c"], 3.0)
    book.succeeded("a")
    book.retain(["a", "c"])
    assert book.failures == {}
