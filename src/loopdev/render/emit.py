"""A fast block-YAML writer that produces exactly PyYAML's output for manifest data.

``to_yaml`` spent most of its time in PyYAML's representer. Manifests are plain dicts,
lists, strings, ints, bools and nulls, and their strings repeat (label keys, names), so
this writer lays out the block structure itself and asks PyYAML only once per distinct
scalar how to write it (plain, quoted, or a ``|`` literal block). Anything else (floats,
non-string keys, other types) returns None and the caller uses PyYAML for the object.
Tests compare the two byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any


class _Unsupported(Exception):
    """Data the fast path does not lay out; the caller falls back to PyYAML."""


ScalarFn = Callable[[Any], str]

_values: dict[str, tuple[str, tuple[str, ...]]] = {}
_keys: dict[str, str] = {}
_LIMIT = 100_000
_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")


def emit(obj: dict[str, Any], dump: ScalarFn) -> str | None:
    """``obj`` as one block YAML document, or None when it holds unsupported data.

    ``dump`` is PyYAML's dump with the manifest settings, used for scalars.
    """
    lines: list[str] = []
    try:
        _mapping(obj, 0, lines, dump)
    except _Unsupported:
        return None
    return "\n".join(lines) + "\n" if lines else "{}\n"


def _mapping(data: dict[Any, Any], indent: int, out: list[str], dump: ScalarFn) -> None:
    pad = " " * indent
    for key, value in data.items():
        if type(key) is not str:
            raise _Unsupported
        head = pad + _key(key, dump) + ":"
        kind = type(value)
        if kind is dict:
            if value:
                out.append(head)
                _mapping(value, indent + 2, out, dump)
            else:
                out.append(head + " {}")
        elif kind is list:
            if value:
                out.append(head)
                _sequence(value, indent, out, dump)  # PyYAML's sequences in maps are indentless
            else:
                out.append(head + " []")
        else:
            _scalar_into(head + " ", value, indent + 2, out, dump)


def _sequence(data: list[Any], indent: int, out: list[str], dump: ScalarFn) -> None:
    pad = " " * indent
    for item in data:
        kind = type(item)
        if (kind is dict or kind is list) and item:
            start = len(out)
            if kind is dict:
                _mapping(item, indent + 2, out, dump)
            else:
                _sequence(item, indent + 2, out, dump)
            out[start] = pad + "- " + out[start][indent + 2 :]
        elif kind is dict:
            out.append(pad + "- {}")
        elif kind is list:
            out.append(pad + "- []")
        else:
            _scalar_into(pad + "- ", item, indent + 2, out, dump)


def _scalar_into(prefix: str, value: Any, indent: int, out: list[str], dump: ScalarFn) -> None:
    kind = type(value)
    if kind is str:
        first, rest = _value(value, dump)
        out.append(prefix + first)
        if rest:
            pad = " " * indent
            out.extend(pad + line if line else line for line in rest)
    elif kind is bool:
        out.append(prefix + ("true" if value else "false"))
    elif kind is int:
        out.append(prefix + str(value))
    elif value is None:
        out.append(prefix + "null")
    else:
        raise _Unsupported


def _value(text: str, dump: ScalarFn) -> tuple[str, tuple[str, ...]]:
    """How PyYAML writes ``text`` as a block mapping value: the part after ``key: `` and any
    literal-block lines (relative to the block's indentation)."""
    hit = _values.get(text)
    if hit is None:
        written = dump({"k": text})
        lines = written.split("\n")[:-1]
        if (
            not lines[0].startswith("k: ")
            or (len(lines) > 1 and lines[0][3:4] != "|")  # only literal blocks span lines
            or "+" in lines[0]  # keep-chomping blocks end the document with "..."
            or _OTHER_BREAKS.search(written)  # breaks PyYAML writes raw, mid-line
        ):
            raise _Unsupported
        hit = (lines[0][3:], tuple(line[2:] for line in lines[1:]))
        if len(_values) > _LIMIT:
            _values.clear()
        _values[text] = hit
    return hit


def _key(text: str, dump: ScalarFn) -> str:
    hit = _keys.get(text)
    if hit is None:
        line = dump({text: 0})
        if (
            not line.endswith(": 0\n")
            or line.startswith("? ")
            or line.count("\n") != 1
            or _OTHER_BREAKS.search(line)
        ):
            raise _Unsupported
        hit = line[: -len(": 0\n")]
        if len(_keys) > _LIMIT:
            _keys.clear()
        _keys[text] = hit
    return hit
