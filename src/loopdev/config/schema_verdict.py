"""A fast yes/no on the loopfile schema: fastjsonschema's compiled validator, cached on disk.

Why: on a 2,000-line loopfile jsonschema's Draft 2020-12 validator took 40 ms of a 90 ms load,
and importing jsonschema cost another 110 ms in every fresh process. fastjsonschema turns the
schema into straight-line Python that answers in about a quarter of the time. It only says
whether a document is valid: when it says no, jsonschema runs as before and every error is
worded from its output (``schema_errors``), so messages do not depend on this module.

fastjsonschema reads draft-07, so the schema is translated: ``$defs`` become ``definitions``,
``dependentRequired`` becomes the array form of ``dependencies`` (the same assertion), and a
``$ref`` with sibling keywords becomes an ``allOf`` (draft-07 would ignore the siblings).
Any other keyword newer than draft-07 is refused here, so a schema change that this
translation does not cover fails the tests instead of validating differently.

The generated code is compiled once per translated schema (keyed by its hash, fastjsonschema's
version and the Python version) and kept as marshalled bytecode under the user cache
directory, so a fresh process is spared the 120 ms of generating and compiling it. It is
written by loopdev itself rather than left to Python's ``__pycache__``, which users may turn
off (``PYTHONDONTWRITEBYTECODE``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import marshal
import os
import sys
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import CodeType
from typing import Any

from loopdev.cachedir import cache_root
from loopdev.config.schema import schema

_DRAFT7 = "http://json-schema.org/draft-07/schema#"
_SCHEMA_MAPS = {"properties", "patternProperties"}
_LITERALS = {"enum", "const", "required"}
_ANNOTATIONS = {"description", "title", "$comment", "examples", "default", "$id", "$schema"}
_SUPPORTED = {
    *_SCHEMA_MAPS,
    *_LITERALS,
    *_ANNOTATIONS,
    "$defs",
    "$ref",
    "dependentRequired",
    "type",
    "additionalProperties",
    "propertyNames",
    "items",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "oneOf",
    "anyOf",
    "allOf",
    "not",
}


class UnsupportedSchema(ValueError):
    """The schema uses a keyword this translation to draft-07 does not cover."""


def to_draft7(root: dict[str, Any]) -> dict[str, Any]:
    """``root`` (Draft 2020-12) as an equivalent draft-07 schema, without annotations."""

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key not in _SUPPORTED:
                raise UnsupportedSchema(f"keyword {key!r} has no draft-07 translation here")
            if key in _SCHEMA_MAPS:
                out[key] = {name: walk(sub) for name, sub in value.items()}
            elif key == "$defs":
                out["definitions"] = {name: walk(sub) for name, sub in value.items()}
            elif key == "$ref":
                if not value.startswith("#/$defs/"):
                    raise UnsupportedSchema(f"$ref {value!r}: only local #/$defs/ references")
                out[key] = "#/definitions/" + value.removeprefix("#/$defs/")
            elif key == "dependentRequired":
                out["dependencies"] = value
            elif key in _LITERALS:
                out[key] = value
            elif key not in _ANNOTATIONS:
                out[key] = walk(value)
        if "$ref" in out and out.keys() - {"$ref", "definitions"}:
            # draft-07 ignores the siblings of a $ref; Draft 2020-12 applies them
            ref = {"$ref": out.pop("$ref")}
            definitions = {"definitions": out.pop("definitions")} if "definitions" in out else {}
            return {"allOf": [ref, out], **definitions}
        return out

    translated: dict[str, Any] = walk(root)
    translated["$schema"] = _DRAFT7
    return translated


def generated_source(root: dict[str, Any]) -> str:
    """The Python source of fastjsonschema's validator for ``root``."""
    import fastjsonschema

    source: str = fastjsonschema.compile_to_code(to_draft7(root))
    return source


@cache
def _compiled() -> Callable[[Any], Any]:
    import fastjsonschema

    translated = to_draft7(schema())  # the key covers this translation's own changes too
    text = json.dumps(translated, sort_keys=True)
    key = hashlib.sha256(f"{fastjsonschema.VERSION}\0{text}".encode()).hexdigest()[:20]
    path = cache_root() / "schema" / f"loopfile_schema_{key}.{sys.implementation.cache_tag}"
    code = _cached_code(path)
    if code is None:
        code = compile(fastjsonschema.compile_to_code(translated), "<loopfile schema>", "exec")
        with contextlib.suppress(OSError):  # an unwritable cache only costs time
            _write_atomically(path, importlib.util.MAGIC_NUMBER + marshal.dumps(code))
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    validate: Callable[[Any], Any] = namespace["validate"]
    return validate


def _cached_code(path: Path) -> CodeType | None:
    """The cached code object, or None when absent, from another Python, or damaged."""
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    magic = importlib.util.MAGIC_NUMBER
    if blob.startswith(magic):
        try:
            code = marshal.loads(blob[len(magic) :])
        except (EOFError, ValueError, TypeError):
            code = None
        if isinstance(code, CodeType):
            return code
    path.unlink(missing_ok=True)
    return None


def _write_atomically(path: Path, blob: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_valid(data: Any) -> bool:
    """Whether ``data`` satisfies the loopfile schema (never True where jsonschema says no)."""
    try:
        _compiled()(data)
    except Exception:  # a JsonSchemaException, or anything odd: let jsonschema decide
        return False
    return True
