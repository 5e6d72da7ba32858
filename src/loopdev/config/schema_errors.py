"""Word jsonschema's errors for humans, at the line of the offending key or value.

jsonschema's own messages ("'x' is not of type 'integer'") name neither the line nor what
would be valid; here each error becomes ``<what is wrong>, expected <what is valid>``.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from loopdev.config import schema_verdict
from loopdev.config.problems import (
    Path_,
    Problems,
    did_you_mean,
    is_secret_path,
    one_of,
    report_exactly_one,
)
from loopdev.config.schema import schema, validator
from loopdev.config.source import Marks

if TYPE_CHECKING:
    from jsonschema import ValidationError

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}

# What a value must look like, by the schema pattern it failed (keep in sync with the schema).
_PATTERN_HINTS = {
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": "a DNS-1123 label: lowercase letters, digits and '-', "
    "starting and ending with a letter or digit",
    "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$": "a lowercase name: letters, digits, '-' and '.'",
    "^[A-Za-z0-9][A-Za-z0-9_.-]*$": "a name of letters, digits, '_', '-' and '.'",
    "^/(?!(.*/)?\\.\\.(/|$))": "an absolute path in the container such as '/app/', without '..'",
    "^[A-Za-z]+/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$": "kind/name, e.g. 'deployment/api'",
    "^[0-9]{1,5}:([0-9]{1,5}|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$": "'LOCAL:REMOTE' such as "
    "'8080:80' or '8080:http', or a mapping {local, remote, host}",
    "^https?://[^\\s]+$": "an http:// or https:// URL",
    "^[^\\s:]+:[0-9]{1,5}$": "host:port, e.g. '127.0.0.1:5432'",
    "^[A-Za-z_][A-Za-z0-9_]*$": "an environment variable name (letters, digits, '_')",
    "^[A-Z][A-Za-z0-9]*$": "a Kubernetes kind such as 'Rollout'",
    "^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$": "a dotted values path such as 'image.repository'",
    "^(/([^~/]|~[01])*)+$": "a JSON pointer such as '/deploy/values/replicas' ('~1' for '/')",
    "^([A-Za-z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-]+[a-z0-9]+)*(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$": (
        "an image repository such as 'api' or 'registry.example.com/team/api' (lowercase)"
    ),
}


def check_schema(data: Any, marks: Marks, problems: Problems, prefix: Path_ = ()) -> None:
    """Add a located, worded problem for every schema violation in ``data``."""
    if schema_verdict.is_valid(data):  # the usual case, without jsonschema's cost
        return
    errors = list(validator().iter_errors(data))
    suggested: set[tuple[Path_, str]] = {
        (prefix + _path(e), "*") for e in errors if e.validator == "dependentRequired"
    }
    for err in errors:  # unknown keys first, so a typo can silence its "missing key"
        if err.validator == "additionalProperties":
            _unknown_keys(err, marks, problems, prefix, suggested)
    for err in errors:
        if err.validator != "additionalProperties":
            _report(err, marks, problems, prefix, suggested)


def _path(err: ValidationError) -> Path_:
    return tuple(err.absolute_path)


def _unknown_keys(
    err: ValidationError,
    marks: Marks,
    problems: Problems,
    prefix: Path_,
    suggested: set[tuple[Path_, str]],
) -> None:
    allowed = sorted(err.schema.get("properties", {}))
    path = prefix + _path(err)
    patterns = [re.compile(p) for p in err.schema.get("patternProperties", {})]
    for key in err.instance:
        if key in allowed or any(p.search(key) for p in patterns):
            continue
        hint = did_you_mean(key, allowed)
        if hint:
            suggested.add((path, hint.split("'")[1]))
        expected = f"one of {one_of(allowed)}" if allowed else "no keys here"
        where = path + (key,)
        problems.add_at(marks.key_at(where), where, f"unknown key{hint}, expected {expected}")


def _report(
    err: ValidationError,
    marks: Marks,
    problems: Problems,
    prefix: Path_,
    suggested: set[tuple[Path_, str]],
) -> None:
    path = prefix + _path(err)
    kind = err.validator
    if kind in ("oneOf", "anyOf"):
        _report_alternatives(err, marks, problems, prefix, suggested)
        return
    if kind == "required":
        missing = [k for k in err.validator_value if k not in err.instance]
        for key in missing:
            if (path, key) not in suggested:
                problems.add_at(marks.value_at(path), path, _missing(err, key))
        return
    if "propertyNames" in err.relative_schema_path or "propertyNames" in err.schema_path:
        _bad_key_name(err, marks, problems, path)
        return
    problems.add_at(marks.value_at(path), path, _message(err, hide=is_secret_path(path)))


def _missing(err: ValidationError, key: str) -> str:
    """``missing required key 'x', expected x: <what the schema says it is>``."""
    prop = _property_schema(err.schema, key)
    if "const" in prop:
        return f"missing required key '{key}', expected {key}: {prop['const']!r}"
    about = prop.get("description", "")
    what = about.split(". ")[0].rstrip(".")
    return f"missing required key '{key}'" + (f", expected {key}: {what}" if what else "")


def _property_schema(node: dict[str, Any], key: str) -> dict[str, Any]:
    """The schema of property ``key`` in ``node``, following one level of ``$ref``."""
    props = node.get("properties")
    if props is None and "$ref" in node:
        props = schema()["$defs"][node["$ref"].rsplit("/", 1)[-1]].get("properties")
    found = (props or {}).get(key, {})
    return found if isinstance(found, dict) else {}


def _bad_key_name(err: ValidationError, marks: Marks, problems: Problems, path: Path_) -> None:
    """A mapping key that is not a valid name (image repository, resource, env var...)."""
    key = str(err.instance)
    if err.validator == "pattern":
        expected = _PATTERN_HINTS.get(err.validator_value, f"text matching {err.validator_value}")
    else:
        expected = _expected(err)
    where = path + (key,)
    problems.add_at(marks.key_at(where), where, f"invalid name {key!r}, expected {expected}")


def _report_alternatives(
    err: ValidationError,
    marks: Marks,
    problems: Problems,
    prefix: Path_,
    suggested: set[tuple[Path_, str]],
) -> None:
    path = prefix + _path(err)
    branches: list[dict[str, Any]] = err.validator_value
    if all(set(b) == {"required"} for b in branches):
        if (path, "*") not in suggested:  # a more specific dependentRequired error was given
            _exactly_one(err, [b["required"][0] for b in branches], marks, problems, path)
        return
    fitting = [i for i, b in enumerate(branches) if _type_fits(_branch_type(b), err.instance)]
    if len(fitting) == 1:
        for sub in err.context or []:
            if sub.relative_schema_path and sub.relative_schema_path[0] == fitting[0]:
                if sub.validator == "additionalProperties":
                    _unknown_keys(sub, marks, problems, prefix, suggested)
                else:
                    _report(sub, marks, problems, prefix, suggested)
        return
    wanted = " or ".join(_TYPE_NAMES.get(_branch_type(b) or "", "a value") for b in branches)
    found = _found(err.instance, is_secret_path(path))
    problems.add_at(marks.value_at(path), path, f"{found}, expected {wanted}")


def _exactly_one(
    err: ValidationError, keys: list[str], marks: Marks, problems: Problems, path: Path_
) -> None:
    instance = err.instance if isinstance(err.instance, dict) else {}
    report_exactly_one(instance, keys, path, marks, problems)


def _branch_type(branch: dict[str, Any]) -> str | None:
    if "type" in branch:
        return str(branch["type"])
    ref = branch.get("$ref", "")
    if ref:
        target = schema()["$defs"].get(ref.rsplit("/", 1)[-1], {})
        return _branch_type(target)
    return None


def _type_fits(type_name: str | None, value: Any) -> bool:
    return type_name is None or validator().is_type(value, type_name)


def _message(err: ValidationError, hide: bool) -> str:
    value, kind = err.instance, err.validator
    if kind == "const":
        return f"{_show(value)} is not supported, expected {_show(err.validator_value)}"
    if kind == "dependentRequired":
        pairs = [(k, need) for k, need in err.validator_value.items() if k in value]
        key, need = pairs[0] if pairs else ("?", ["?"])
        return f"'{key}' needs '{need[0]}' in the same rule, expected {one_of(need)} too"
    if kind == "type":
        return f"{_found(value, hide)}, expected {_expected(err)}"
    shown = "the value" if hide else _show(value)
    return f"{shown} {_wrong(err)}, expected {_expected(err)}"


def _found(value: Any, hide: bool) -> str:
    """``'x' is a string`` for scalars, ``found a list`` for containers (or hidden secrets)."""
    if hide or isinstance(value, (dict, list)):
        return f"found {_kind(value)}"
    return f"{_show(value)} is {_kind(value)}"


def _wrong(err: ValidationError) -> str:
    kind = err.validator
    if kind == "enum":
        return "is not allowed" + did_you_mean(str(err.instance), map(str, err.validator_value))
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return "is out of range"
    if kind in ("minLength", "minItems"):
        return "is empty"
    if kind in ("maxLength",):
        return "is too long"
    return "is not valid"


def _expected(err: ValidationError) -> str:
    kind, want = err.validator, err.validator_value
    if kind == "type":
        words = [_TYPE_NAMES.get(n, n) for n in ([want] if isinstance(want, str) else want)]
        return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    if kind == "enum":
        return f"one of {one_of(want)}"
    if kind == "pattern":
        return _PATTERN_HINTS.get(want, f"text matching {want}")
    if kind == "minimum":
        return f"at least {want}"
    if kind == "maximum":
        return f"at most {want}"
    if kind == "exclusiveMinimum":
        return f"more than {want}"
    if kind == "minLength":
        return "a non-empty string"
    if kind == "minItems":
        return f"at least {want} item{'s' if want != 1 else ''}"
    if kind == "maxLength":
        return f"at most {want} characters"
    return str(err.message)


def _kind(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if validator().is_type(value, name):
            return _TYPE_NAMES[name]
    return type(value).__name__


def _show(value: Any) -> str:
    """A short rendering of a value for messages (mappings and lists are summarised)."""
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    text = repr(value) if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
