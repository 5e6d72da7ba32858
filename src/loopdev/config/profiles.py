"""Profiles: which ones are active, and merging them over the file while keeping line marks.

Merge rule: mappings merge key by key, everything else (lists, scalars) is replaced. One
exception keeps switching sources possible: a profile that names one of a set of mutually
exclusive keys (a deploy source, ``cmd``/``serve``, a readiness check) replaces the others.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from loopdev.config.problems import one_of
from loopdev.config.source import Marks
from loopdev.errors import UsageError

_EXCLUSIVE: list[tuple[tuple[str | None, ...], frozenset[str]]] = [
    (("deploy",), frozenset({"chart", "manifests", "kustomize", "helm"})),
    (("local", None), frozenset({"cmd", "serve"})),
    (("local", None, "readiness"), frozenset({"http", "tcp", "exec"})),
]


def rule_matches(
    rule: Mapping[str, Any], env: Mapping[str, str], kube_context: str | None, command: str | None
) -> bool:
    """Whether one activation rule holds (env equals/matches/is set, kube context, command)."""
    if "env" in rule:
        value = env.get(str(rule["env"]))
        if value is None:
            return False
        if "equals" in rule:
            return value == str(rule["equals"])
        if "matches" in rule:
            try:
                return re.search(str(rule["matches"]), value) is not None
            except re.error:  # reported as a config problem by checks.check_profiles
                return False
        return value != ""
    if "kubeContext" in rule:
        return kube_context is not None and fnmatchcase(kube_context, str(rule["kubeContext"]))
    if "command" in rule:
        return command is not None and command == rule["command"]
    return False


def select_profiles(
    defined: Mapping[str, Any],
    requested: Sequence[str],
    env: Mapping[str, str],
    kube_context: str | None,
    command: str | None,
) -> tuple[str, ...]:
    """Auto-activated profiles in file order, then the requested ones (each applied once)."""
    unknown = [name for name in requested if name not in defined]
    if unknown:
        valid = f"one of {one_of(sorted(defined))}" if defined else "none: the file defines none"
        raise UsageError(f"unknown profile {one_of(unknown)}, expected {valid}")
    active: list[str] = []
    for name, body in defined.items():
        rules = body.get("activation") if isinstance(body, dict) else None
        if not isinstance(rules, list):  # malformed: already reported by the schema check
            continue
        if any(rule_matches(r, env, kube_context, command) for r in rules if isinstance(r, dict)):
            active.append(name)
    active.extend(name for name in requested if name not in active)
    return tuple(active)


def apply_profile(data: dict[str, Any], marks: Marks, name: str) -> tuple[dict[str, Any], Marks]:
    """``data`` with profile ``name``'s overlay merged over it (its ``patches`` apply after,
    see ``config.patches``), and marks pointing into the profile."""
    overlay = {
        k: v for k, v in data["profiles"][name].items() if k not in ("activation", "patches")
    }
    return merge(data, overlay, ()), marks.overlay(marks, ("profiles", name))


def merge(base: Any, overlay: Any, path: tuple[str, ...]) -> Any:
    """Deep-merge mappings; lists and scalars in ``overlay`` replace those in ``base``."""
    if not (isinstance(base, dict) and isinstance(overlay, dict)):
        return overlay
    result = dict(base)
    exclusive = _exclusive_keys(path)
    if exclusive and exclusive & overlay.keys():
        for key in exclusive - overlay.keys():
            result.pop(key, None)
    for key, value in overlay.items():
        result[key] = merge(base[key], value, (*path, key)) if key in base else value
    return result


def _exclusive_keys(path: tuple[str, ...]) -> frozenset[str]:
    for pattern, keys in _EXCLUSIVE:
        if len(pattern) == len(path) and all(
            p is None or p == q for p, q in zip(pattern, path, strict=True)
        ):
            return keys
    return frozenset()


def defined_profiles(data: Mapping[str, Any]) -> dict[str, Any]:
    """The profiles mapping of the document, or an empty one when absent or malformed."""
    profiles = data.get("profiles")
    return profiles if isinstance(profiles, dict) else {}
