"""The loopfile JSON Schema: loading the shipped copy and a fast validator over it.

Errors always come from jsonschema's Draft 2020-12 validator over loopfile.schema.json, and
``schema_errors`` turns them into located, human messages; ``schema_verdict`` answers the
common "is it valid?" first, faster.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when first needed: importing jsonschema costs ~110 ms
    from jsonschema import Draft202012Validator

_NOT_VALIDATED = {"$defs", "description", "title", "$comment", "examples", "default"}
_SCHEMA_MAPS = {"properties", "patternProperties", "dependentSchemas"}
_LITERALS = {"enum", "const", "required", "dependentRequired"}


@cache
def schema() -> dict[str, Any]:
    """The loopfile JSON Schema shipped with the package (identical to the repo-root copy)."""
    text = resources.files("loopdev.config").joinpath("loopfile.schema.json").read_text("utf-8")
    result: dict[str, Any] = json.loads(text)
    return result


@cache
def validator() -> Draft202012Validator:
    """A validator over the schema with every ``$ref`` inlined.

    Why: resolving ``$ref`` costs jsonschema about half of a validation run, and the schema
    has no recursion, so inlining once gives an equivalent schema that validates twice as fast.
    """
    from jsonschema import Draft202012Validator

    return Draft202012Validator(inline_refs(schema()))


def inline_refs(root: dict[str, Any]) -> dict[str, Any]:
    """``root`` with each local ``$ref`` replaced by its target (``allOf`` when keys collide).

    Annotations (descriptions, titles) are dropped: they never change a verdict.
    """
    defs = root.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _SCHEMA_MAPS:  # name -> subschema: names are data, never annotations
                out[key] = {name: walk(sub) for name, sub in value.items()}
            elif key in _LITERALS:
                out[key] = value
            elif key not in _NOT_VALIDATED:
                out[key] = walk(value)
        ref = out.pop("$ref", None)
        if ref is None:
            return out
        target = walk(defs[ref.rsplit("/", 1)[-1]])
        return {"allOf": [target], **out} if target.keys() & out.keys() else {**target, **out}

    inlined: dict[str, Any] = walk(root)
    return inlined


def is_schema_valid(data: Any) -> bool:
    """Whether ``data`` passes the schema alone (used by the schema/loader agreement tests)."""
    return bool(validator().is_valid(data))
