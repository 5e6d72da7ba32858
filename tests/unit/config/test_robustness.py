"""A broken loopfile is always reported as a config problem, never as a crash.

Every node (to depth 4) of a full valid file is replaced by a value of another shape; the
loader must either accept the result or raise ConfigError/UsageError (exit 2), with and
without a profile applied.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from loopdev.config.load import resolve_loopfile
from loopdev.errors import ConfigError, UsageError

FULL = Path(__file__).parent / "valid" / "full.yaml"


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    if len(prefix) >= 4:
        return
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        yield from _paths(value, (*prefix, key))


def _replaced(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> str:
    out = copy.deepcopy(doc)
    target = out
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return yaml.safe_dump(out)


def test_wrong_shapes_never_crash_the_loader() -> None:
    doc = yaml.safe_load(FULL.read_text())
    checked = 0
    values: tuple[Any, ...] = (None, {}, "[x", [], 7)
    for i, path in enumerate(_paths(doc)):  # one wrong value per node, cycling, to stay fast
        value, profiles = values[i % len(values)], ((), ("offline",))[i % 2]
        try:
            resolve_loopfile(FULL, profiles, text=_replaced(doc, path, value), env={})
        except (ConfigError, UsageError) as err:
            assert err.exit_code == 2
        checked += 1
    assert checked > 50  # the walk really visited the document
