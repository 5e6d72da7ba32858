"""The pure reducer: (state, action, now) -> state, looked up in a table by action type."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from loopdev.engine import actions as a
from loopdev.engine.state import EngineState, ResourceStatus


def _with_resource(state: EngineState, res: ResourceStatus) -> EngineState:
    resources = dict(state.resources)
    resources[res.name] = res
    order = state.order if res.name in state.order else (*state.order, res.name)
    return dataclasses.replace(state, resources=MappingProxyType(resources), order=order)


def _session(state: EngineState, act: a.SessionStarted, now: float) -> EngineState:
    return dataclasses.replace(
        state,
        project=act.project,
        context=act.context,
        namespace=act.namespace,
        profiles=act.profiles,
    )


def _added(state: EngineState, act: a.ResourceAdded, now: float) -> EngineState:
    res = act.status if act.status.since else dataclasses.replace(act.status, since=now)
    return _with_resource(state, res)


def _removed(state: EngineState, act: a.ResourceRemoved, now: float) -> EngineState:
    resources = {k: v for k, v in state.resources.items() if k != act.name}
    order = tuple(n for n in state.order if n != act.name)
    return dataclasses.replace(state, resources=MappingProxyType(resources), order=order)


def _state_changed(state: EngineState, act: a.StateChanged, now: float) -> EngineState:
    res = state.resources.get(act.name)
    if res is None:
        return state
    if res.state == act.state and res.reason == act.reason:
        return state
    since = res.since if res.state == act.state else now
    last_error = act.reason if act.state in ("error", "crashing", "image-error") else res.last_error
    return _with_resource(
        state,
        dataclasses.replace(
            res, state=act.state, reason=act.reason, since=since, last_error=last_error
        ),
    )


def _patched(state: EngineState, act: a.StatusPatched, now: float) -> EngineState:
    res = state.resources.get(act.name)
    if res is None:
        return state
    return _with_resource(state, dataclasses.replace(res, **act.fields))


def _reachability(state: EngineState, act: a.ClusterReachability, now: float) -> EngineState:
    if act.reachable:
        if state.cluster_reachable:
            return state
        return dataclasses.replace(
            state, cluster_reachable=True, unreachable_since=0.0, unreachable_reason=""
        )
    if not state.cluster_reachable and state.unreachable_reason == act.reason:
        return state
    since = state.unreachable_since if not state.cluster_reachable else now
    return dataclasses.replace(
        state, cluster_reachable=False, unreachable_since=since, unreachable_reason=act.reason
    )


def _config_reloaded(state: EngineState, act: a.ConfigReloaded, now: float) -> EngineState:
    return dataclasses.replace(state, config_error="", config_reloads=state.config_reloads + 1)


def _config_invalid(state: EngineState, act: a.ConfigInvalid, now: float) -> EngineState:
    if state.config_error == act.message:
        return state
    return dataclasses.replace(state, config_error=act.message)


def _unchanged(state: EngineState, act: Any, now: float) -> EngineState:
    return state


HANDLERS: dict[type, Callable[[EngineState, Any, float], EngineState]] = {
    a.SessionStarted: _session,
    a.ResourceAdded: _added,
    a.ResourceRemoved: _removed,
    a.StateChanged: _state_changed,
    a.StatusPatched: _patched,
    a.ClusterReachability: _reachability,
    a.ConfigReloaded: _config_reloaded,
    a.ConfigInvalid: _config_invalid,
    # Commands and events that only reconcilers react to:
    a.FilesChanged: _unchanged,
    a.TriggerRequested: _unchanged,
    a.ShutdownRequested: _unchanged,
    a.RebuildRequested: _unchanged,
    a.ImagesBuilt: _unchanged,
    a.DeployFinished: _unchanged,
}


def reduce(state: EngineState, action: a.Action, now: float) -> EngineState:
    """Apply one action. Unknown action types are a programming error."""
    new = HANDLERS[type(action)](state, action, now)
    if new is state:
        return state
    return dataclasses.replace(new, version=state.version + 1)
