"""Parse YAML into plain data plus a side table of line/column marks.

Why a side table: jsonschema and the profile merge work on plain dicts, but every problem
must still name the line it came from. ``Marks`` maps a key path to where its value (and,
for mapping entries, its key) starts in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from loopdev.config.problems import Mark, Path_, Problems

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_constructor = yaml.constructor.SafeConstructor()
# Called directly: SafeConstructor.construct_object would cache every node it ever saw.
_SCALARS: dict[str, Any] = {
    "tag:yaml.org,2002:null": _constructor.construct_yaml_null,
    "tag:yaml.org,2002:bool": _constructor.construct_yaml_bool,
    "tag:yaml.org,2002:int": _constructor.construct_yaml_int,
    "tag:yaml.org,2002:float": _constructor.construct_yaml_float,
}
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"


@dataclass
class Marks:
    """Where each value (``values``) and each mapping key (``keys``) starts: path -> mark.

    ``layers`` are overlays (a profile's marks under its prefix), consulted newest first, so
    applying a profile costs O(1) instead of copying every mark of the file.
    """

    values: dict[Path_, Any] = field(default_factory=dict)  # Mark, or a yaml mark (lazy)
    keys: dict[Path_, Any] = field(default_factory=dict)
    layers: tuple[tuple[Marks, Path_], ...] = ()

    def overlay(self, source: Marks, prefix: Path_) -> Marks:
        """These marks with ``source``'s marks under ``prefix`` taking precedence."""
        return Marks(self.values, self.keys, (*self.layers, (source, prefix)))

    def _exact(self, table: str, path: Path_) -> Mark | None:
        for source, prefix in reversed(self.layers):
            found = getattr(source, table).get(prefix + path) if path else None
            if found is not None:
                return _mark(found)
        result = getattr(self, table).get(path)
        return None if result is None else _mark(result)

    def value_at(self, path: Path_) -> Mark:
        """The mark of the deepest node on ``path`` that exists (the document start at worst)."""
        for end in range(len(path), -1, -1):
            mark = self._exact("values", path[:end])
            if mark is not None:
                return mark
        return Mark(1, 1)

    def key_at(self, path: Path_) -> Mark:
        """The mark of the key that introduces ``path``, else of its value."""
        return self._exact("keys", path) or self.value_at(path)


@dataclass
class Document:
    data: Any
    marks: Marks


def parse_yaml(text: str, problems: Problems) -> Document | None:
    """Compose ``text`` (libyaml when available) into plain data and marks; None on syntax error."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        problems.add_at(_mark(err.problem_mark or err.context_mark), (), _syntax_message(err, text))
        return None
    except yaml.YAMLError as err:  # pragma: no cover - libyaml reader errors without a mark
        problems.add_at(Mark(1, 1), (), f"invalid YAML: {err}, expected a YAML document")
        return None
    marks = Marks()
    if node is None:
        return Document(None, marks)
    return Document(_convert(node, (), marks, problems), marks)


def _mark(m: Any) -> Mark:
    """A 1-based Mark from a 0-based yaml mark (stored raw: converting costs, lookups are rare)."""
    if isinstance(m, Mark):
        return m
    return Mark(m.line + 1, m.column + 1) if m is not None else Mark(1, 1)


def _syntax_message(err: yaml.MarkedYAMLError, text: str) -> str:
    problem = err.problem or "syntax error"
    mark = err.problem_mark
    if mark is not None and text[mark.index : mark.index + 1] == "\t":
        return "invalid YAML: a tab character, expected spaces for indentation (YAML forbids tabs)"
    context = f" {err.context}" if err.context else ""
    start = err.context_mark
    if start is not None and mark is not None and start.line != mark.line:
        context += f" (started at line {start.line + 1})"
    return f"invalid YAML: {problem}{context}, expected well-formed YAML"


def _convert(node: yaml.Node, path: Path_, marks: Marks, problems: Problems) -> Any:
    marks.values[path] = node.start_mark
    tag = node.tag
    if tag == _STR:
        return node.value
    if isinstance(node, yaml.MappingNode):
        return _convert_mapping(node, path, marks, problems)
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), marks, problems) for i, item in enumerate(node.value)]
    construct = _SCALARS.get(tag)
    return construct(node) if construct else node.value  # timestamps etc. stay as written


def _convert_mapping(
    node: yaml.MappingNode, path: Path_, marks: Marks, problems: Problems
) -> dict[str, Any]:
    if any(k.tag == _MERGE for k, _ in node.value):
        _constructor.flatten_mapping(node)  # YAML merge keys (<<: *anchor)
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key_mark = key_node.start_mark
        if not isinstance(key_node, yaml.ScalarNode):
            msg = "a key is a mapping or list, expected a plain name"
            problems.add_at(_mark(key_mark), path, msg)
            continue
        key = key_node.value
        child = (*path, key)
        if key in out:
            first = _mark(marks.keys[child])
            problems.add_at(
                _mark(key_mark),
                child,
                f"duplicate key (first at line {first.line}), expected it once",
            )
            continue
        marks.keys[child] = key_mark
        out[key] = _convert(value_node, child, marks, problems)
    return out
