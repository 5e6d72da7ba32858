"""`ci`'s verdict: no settle wait for workloads whose pods were ready before this run and
that this run did not apply; the wait stays for what became ready or was applied now."""

from __future__ import annotations

from loopdev.engine.session import ci_verdict
from loopdev.engine.state import EngineState, ResourceStatus

WALL = 1_800_000_000.0


def state(*resources: ResourceStatus) -> EngineState:
    return EngineState(
        resources={r.name: r for r in resources}, order=tuple(r.name for r in resources)
    )


def web(stable: float | None, since: float = 10.0) -> ResourceStatus:
    return ResourceStatus("web", "workload", state="ready", since=since, stable_since=stable)


def test_pods_ready_long_before_this_run_need_no_wait() -> None:
    image = ResourceStatus("img", "image", state="ready", since=10.0)  # built just now
    got = ci_verdict(state(image, web(WALL - 600)), True, now=10.1, settle=2.0, wall=WALL)
    assert got is not None and got.ok
    assert got.reason == "ready 2s+ by the pods' own clock: web"


def test_pods_that_became_ready_during_this_run_wait_the_settle() -> None:
    fresh = web(WALL - 0.5)  # Ready half a second ago by its own timestamp
    assert ci_verdict(state(fresh), True, now=10.1, settle=2.0, wall=WALL) is None
    got = ci_verdict(state(fresh), True, now=12.0, settle=2.0, wall=WALL)
    assert got is not None and got.ok and got.reason == "stayed ready 2s: web"
    unknown = web(None)  # no timestamps: timed here
    assert ci_verdict(state(unknown), True, now=11.9, settle=2.0, wall=WALL) is None


def test_what_this_run_applied_is_timed_here_whatever_its_pods_say() -> None:
    # Right after an apply the watch may still show the old, long-ready pods.
    old = web(WALL - 600)
    args = {"settle": 2.0, "wall": WALL, "applied": frozenset({"web"})}
    assert ci_verdict(state(old), True, now=10.1, **args) is None
    assert ci_verdict(state(old), True, now=12.0, **args).ok


def test_local_resources_keep_the_wait_and_failures_still_win() -> None:
    local = ResourceStatus("serve", "local", state="ready", since=10.0, stable_since=0.0)
    assert ci_verdict(state(web(WALL - 600), local), True, now=10.5, settle=2.0, wall=WALL) is None
    crash = ResourceStatus("api", "workload", state="crashing", reason="exit 1")
    bad = ci_verdict(state(web(WALL - 600), crash), True, now=10.5, settle=2.0, wall=WALL)
    assert bad is not None and not bad.ok and bad.resource == "api"
