from __future__ import annotations

from types import MappingProxyType

from loopdev.engine.scheduler import blocked, ready_to_start, startable
from loopdev.engine.state import EngineState, ResourceStatus


def _state(**states: str) -> EngineState:
    res = {n: ResourceStatus(name=n, kind="workload", state=s) for n, s in states.items()}
    return EngineState(resources=MappingProxyType(res))


def test_no_dependencies_starts_immediately() -> None:
    assert ready_to_start(_state(), "api", ()) == (True, "")


def test_waits_until_every_dependency_is_ready() -> None:
    state = _state(db="deploying", cache="ready")
    ok, reason = ready_to_start(state, "api", ("db", "cache"))
    assert not ok
    assert reason == "waiting for db (deploying)"
    assert ready_to_start(_state(db="ready", cache="ready"), "api", ("db", "cache")) == (True, "")


def test_unknown_dependency_is_not_started() -> None:
    ok, reason = ready_to_start(_state(), "api", ("db",))
    assert not ok and reason == "waiting for db (not started)"


def test_failed_dependency_is_named() -> None:
    ok, reason = ready_to_start(_state(db="crashing", q="building"), "api", ("db", "q"))
    assert not ok
    assert reason == "dependency failed: db; waiting for q (building)"


def test_startable_and_blocked_partition_the_resources() -> None:
    state = _state(db="ready", api="pending", web="pending")
    deps = {"db": (), "api": ("db",), "web": ("api",)}
    assert startable(state, deps) == ["db", "api"]
    assert blocked(state, deps) == {"web": "waiting for api (pending)"}
