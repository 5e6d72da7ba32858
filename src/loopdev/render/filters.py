"""Filters and functions chart templates use, with Helm's semantics where names match.

``indent`` indents the first line too (Helm's ``indent``, unlike Jinja's built-in);
``nindent`` starts with a newline. ``quote`` writes a YAML/JSON double-quoted string.
``required`` and ``fail`` stop the render with the chart author's message.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Undefined

from loopdev.render.yamlio import dump_fragment


class ChartFailure(Exception):
    """Raised by ``required``/``fail``: the message is the chart author's, shown as is."""


def plain(value: Any) -> Any:
    """Template values as plain YAML/JSON data (Markup and other str subclasses become str)."""
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises here with the undefined name
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def toyaml(value: Any) -> str:
    return dump_fragment(plain(value))


def tojson(value: Any, indent: int | None = None) -> str:
    return json.dumps(plain(value), ensure_ascii=False, indent=indent)


def indent(text: Any, width: int = 4, first: bool = True) -> str:
    """Every non-blank line indented by ``width`` spaces (the first too unless first=False)."""
    pad = " " * width
    lines = str(text).split("\n")
    out = [(pad + ln) if ln.strip() else ln for ln in lines]
    if not first and out:
        out[0] = lines[0]
    return "\n".join(out)


def nindent(text: Any, width: int = 4) -> str:
    return "\n" + indent(text, width)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def quote(value: Any) -> str:
    return json.dumps(_scalar_text(value), ensure_ascii=False)


def squote(value: Any) -> str:
    return "'" + _scalar_text(value).replace("'", "''") + "'"


def b64enc(value: Any) -> str:
    return base64.b64encode(_scalar_text(value).encode("utf-8")).decode("ascii")


def b64dec(value: Any) -> str:
    return base64.b64decode(str(value).encode("ascii")).decode("utf-8")


def sha256(value: Any) -> str:
    """Hex digest; mappings and lists hash their canonical JSON so key order does not matter."""
    if isinstance(value, (Mapping, list, tuple)):
        text = json.dumps(plain(value), sort_keys=True, separators=(",", ":"))
    else:
        text = _scalar_text(value)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def trunc(value: Any, length: int) -> str:
    """The first ``length`` characters (Helm's ``trunc``; for 63-character name limits)."""
    return str(value)[:length]


def required(value: Any, message: str | None = None) -> Any:
    """``value`` unless it is undefined, null or empty text; else stop with ``message``."""
    if isinstance(value, Undefined) or value is None or value == "":
        raise ChartFailure(message or "a required value is missing")
    return value


def fail(message: str) -> None:
    raise ChartFailure(message)


FILTERS: dict[str, Callable[..., Any]] = {
    "toyaml": toyaml,
    "toYaml": toyaml,
    "tojson": tojson,
    "toJson": tojson,
    "indent": indent,
    "nindent": nindent,
    "quote": quote,
    "squote": squote,
    "b64enc": b64enc,
    "b64dec": b64dec,
    "sha256": sha256,
    "sha256sum": sha256,
    "trunc": trunc,
    "required": required,
}

FUNCTIONS: dict[str, Callable[..., Any]] = {"required": required, "fail": fail}
