"""When to try again to bring a container up to date after a sync or a replay into it failed.

A failed replay used to be retried on every wake-up (each pod event, and the rebuild it had
asked for finishing), about 10 times a second against a real API server. Now the container's
last failure decides. A new change (another ledger version) or a new container (another key)
is tried at once; otherwise the next try waits an exponential back-off, capped. A failure
that repeats with the same exit code in the same container while nothing changed will
repeat again: it is *settled*, reported once, and left until the next change or a new pod.
A failure without an exit code (cluster unreachable, exec refused, timeout) may pass, so it
keeps backing off at the cap instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    base: float = 1.0  # seconds before the first retry
    cap: float = 60.0

    def delay(self, failures: int) -> float:
        """The wait after ``failures`` consecutive failures (1, 2, 4, ... up to the cap)."""
        return min(self.cap, self.base * float(2 ** max(0, failures - 1)))


BACKOFF = Backoff()


@dataclass(frozen=True)
class Failure:
    version: int  # the ledger version the failed attempt carried
    exit_code: int  # the container's exit status; < 0 when there was none
    failures: int  # consecutive failures at this version
    at: float  # clock time of the last one
    settled: bool = False  # it will repeat: wait for a change or a new pod


@dataclass(frozen=True)
class Verdict:
    now: bool  # try now
    due: float | None = None  # else when to look again; None: only on a change or new pod


def decide(last: Failure | None, version: int, now: float, backoff: Backoff = BACKOFF) -> Verdict:
    """Whether to try a container now, given its last failure and the ledger's version."""
    if last is None or last.version != version:
        return Verdict(True)
    if last.settled:
        return Verdict(False)
    due = last.at + backoff.delay(last.failures)
    return Verdict(True) if now >= due else Verdict(False, due)


def after_failure(last: Failure | None, version: int, exit_code: int, now: float) -> Failure:
    """The record once an attempt at ``version`` failed with ``exit_code`` (< 0: none)."""
    if last is None or last.version != version:
        return Failure(version, exit_code, 1, now)
    settled = exit_code >= 0 and exit_code == last.exit_code
    return Failure(version, exit_code, last.failures + 1, now, settled)


@dataclass
class RetryBook:
    """The last failure of every container (by target key) that is not up to date."""

    backoff: Backoff = BACKOFF
    failures: dict[str, Failure] = field(default_factory=dict)

    def split(
        self, keys: Iterable[str], version: int, now: float
    ) -> tuple[list[str], float | None]:
        """The keys to try now, and when the earliest of the others is due (None: none is)."""
        ready: list[str] = []
        due: float | None = None
        for key in keys:
            verdict = decide(self.failures.get(key), version, now, self.backoff)
            if verdict.now:
                ready.append(key)
            elif verdict.due is not None:
                due = verdict.due if due is None else min(due, verdict.due)
        return ready, due

    def failed(self, key: str, version: int, exit_code: int, now: float) -> Failure:
        record = after_failure(self.failures.get(key), version, exit_code, now)
        self.failures[key] = record
        return record

    def succeeded(self, key: str) -> None:
        self.failures.pop(key, None)

    def retain(self, keys: Iterable[str]) -> None:
        """Forget containers that are gone."""
        alive = set(keys)
        for key in [k for k in self.failures if k not in alive]:
            del self.failures[key]
