"""dependsOn gating as pure functions over the engine state.

Why pure: every reconciler (build, deploy, local, port-forward) asks the same question
"may this resource start now?", and the answer must be identical everywhere and testable
without a loop. Cycles are rejected by the config loader, so these never recurse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from loopdev.engine.state import FAILED_STATES, EngineState


def ready_to_start(state: EngineState, name: str, depends_on: Iterable[str]) -> tuple[bool, str]:
    """Whether ``name`` may start: every dependency must be ``ready``.

    Returns ``(True, "")`` or ``(False, reason)``, the reason naming what is waited on, e.g.
    ``"waiting for db (deploying), cache (not started)"`` or ``"db failed: <its reason>"``.
    """
    waiting: list[str] = []
    failed: list[str] = []
    for dep in depends_on:
        if dep == name:
            continue
        res = state.resources.get(dep)
        if res is None:
            waiting.append(f"{dep} (not started)")
        elif res.state == "ready":
            continue
        elif res.state in FAILED_STATES:
            failed.append(dep)
        else:
            waiting.append(f"{dep} ({res.state})")
    if not waiting and not failed:
        return True, ""
    parts: list[str] = []
    if failed:
        parts.append("dependency failed: " + ", ".join(failed))
    if waiting:
        parts.append("waiting for " + ", ".join(waiting))
    return False, "; ".join(parts)


def startable(state: EngineState, depends_on: Mapping[str, Iterable[str]]) -> list[str]:
    """Names (in ``depends_on`` order) whose dependencies are all ready now."""
    return [name for name, deps in depends_on.items() if ready_to_start(state, name, deps)[0]]


def blocked(state: EngineState, depends_on: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Name -> reason for every resource that may not start yet (for status display)."""
    out: dict[str, str] = {}
    for name, deps in depends_on.items():
        ok, reason = ready_to_start(state, name, deps)
        if not ok:
            out[name] = reason
    return out
