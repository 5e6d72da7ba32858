"""Chart values: layering, deep merge and Helm-style ``--set`` parsing.

Layers, lowest first: chart ``values.yaml``; ``values-<profile>.yaml`` per active profile in
order; the loopfile's ``values`` then ``valuesFiles``; ``--values FILE``; ``--set``.
Mappings merge key by key; any other value (lists included) replaces, as in Helm.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from loopdev.errors import ConfigError, ConfigProblem, UsageError
from loopdev.render.yamlio import load as load_yaml

_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """A new mapping: ``overlay`` over ``base``, recursing into mappings only."""
    out: dict[str, Any] = {k: _plain(v) for k, v in base.items()}
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    """Plain dicts/lists (loopfile values may be frozen mappings or tuples)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return copy.copy(value)


def load_values_file(path: Path, *, required: bool = True) -> dict[str, Any]:
    """A values file as a mapping; a missing optional file is empty; errors name file:line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not required:
            return {}
        raise ConfigError(f"{path}: values file not found") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read values file: {err.strerror}") from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise ConfigError([ConfigProblem(str(path), line, col, "", problem)]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigProblem(str(path), 1, 1, "", f"values must be a mapping, not {_kind(data)}")]
        )
    return data


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, list) else f"a {type(value).__name__}"


def layer_values(layers: Iterable[Mapping[str, Any]], set_values: Sequence[str]) -> dict[str, Any]:
    """Merge ``layers`` lowest first, then apply each ``--set`` expression in order."""
    out: dict[str, Any] = {}
    for layer in layers:
        out = deep_merge(out, layer)
    for expr in set_values:
        apply_set(out, expr)
    return out


def apply_set(values: dict[str, Any], expr: str) -> None:
    """Apply one ``--set`` argument (``a.b[0].c=1,x=y``) to ``values`` in place."""
    for assignment in _split_unescaped(expr, ","):
        if not assignment:
            continue
        key, sep, raw = _partition_unescaped(assignment, "=")
        if not sep or not key:
            raise UsageError(
                f"--set {expr!r}: expected KEY=VALUE in {assignment!r}",
                hint="e.g. --set image.tag=dev --set replicas=2 --set 'args={a,b}'",
            )
        _assign(values, _parse_path(key, expr), _typed(raw), expr)


def _typed(raw: str) -> Any:
    """Helm's typing for --set: true/false, null, integers; ``{a,b}`` is a list of those."""
    if raw.startswith("{") and raw.endswith("}"):
        inner = raw[1:-1]
        return [_typed(item) for item in _split_unescaped(inner, ",")] if inner else []
    value = _unescape(raw)
    if value.lower() in ("true", "false"):  # case-insensitive, as Helm's strvals
        return value.lower() == "true"
    if value == "null":
        return None
    if _INT.match(value):
        return int(value)
    return value


_SEGMENT = re.compile(r"^(?P<name>[^\[\]]*)(?P<idx>(\[\d+\])*)$")


def _parse_path(key: str, expr: str) -> list[str | int]:
    """``a.b[0].c`` -> ["a", "b", 0, "c"]; a ``\\.`` stays part of the name."""
    path: list[str | int] = []
    for part in _split_unescaped(key, "."):
        m = _SEGMENT.match(part)
        if m is None or (not m.group("name") and not path):
            raise UsageError(f"--set {expr!r}: cannot parse key {key!r} at {part!r}")
        if m.group("name"):
            path.append(_unescape(m.group("name")))
        path.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group("idx")))
    return path


def _assign(root: dict[str, Any], path: list[str | int], value: Any, expr: str) -> None:
    node: Any = root
    for here, nxt in zip(path, path[1:], strict=False):
        fresh: Any = [] if isinstance(nxt, int) else {}
        node = _step(node, here, fresh, expr)
    _put(node, path[-1], value, expr)


def _step(node: Any, key: str | int, fresh: Any, expr: str) -> Any:
    """The child at ``key``, created as ``fresh`` when absent or of the wrong shape."""
    current = _get(node, key)
    if not isinstance(current, type(fresh)):
        _put(node, key, fresh, expr)
        return fresh
    return current


def _get(node: Any, key: str | int) -> Any:
    if isinstance(key, int):
        return node[key] if key < len(node) else None
    return node.get(key)


def _put(node: Any, key: str | int, value: Any, expr: str) -> None:
    if isinstance(key, int):
        if not isinstance(node, list):
            raise UsageError(f"--set {expr!r}: index [{key}] used on a mapping")
        if key > 10_000:
            raise UsageError(f"--set {expr!r}: index [{key}] is too large (limit 10000)")
        node.extend([None] * (key + 1 - len(node)))
        node[key] = value
    else:
        if not isinstance(node, dict):
            raise UsageError(f"--set {expr!r}: key {key!r} used on a list")
        node[key] = value


def _split_unescaped(text: str, sep: str) -> list[str]:
    """Split on ``sep`` except where escaped with a backslash or inside ``{...}``."""
    parts: list[str] = []
    buf: list[str] = []
    depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            buf.append(text[i : i + 2])
            i += 2
            continue
        depth += (ch == "{") - (ch == "}")
        if ch == sep and depth == 0:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return parts


def _partition_unescaped(text: str, sep: str) -> tuple[str, str, str]:
    head, *rest = _split_unescaped(text, sep)
    return (head, sep, sep.join(rest)) if rest else (head, "", "")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)
