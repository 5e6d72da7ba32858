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
_SCALARS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
}
_constructor = yaml.constructor.SafeConstructor()


@dataclass
class Marks:
    """Where each value (``values``) and each mapping key (``keys``) starts: path -> mark."""

    values: dict[Path_, Mark] = field(default_factory=dict)
    keys: dict[Path_, Mark] = field(default_factory=dict)

    def value_at(self, path: Path_) -> Mark:
        """The mark of the deepest node on ``path`` that exists (the document start at worst)."""
        for end in range(len(path), -1, -1):
            mark = self.values.get(path[:end])
            if mark is not None:
                return mark
        return Mark(1, 1)

    def key_at(self, path: Path_) -> Mark:
        """The mark of the key that introduces ``path``, else of its value."""
        return self.keys.get(path) or self.value_at(path)

    def rebased(self, prefix: Path_, onto: Path_ = ()) -> Marks:
        """The marks below ``prefix``, re-rooted at ``onto`` (used to overlay a profile)."""
        n = len(prefix)
        out = Marks()
        for src, dst in ((self.values, out.values), (self.keys, out.keys)):
            for path, mark in src.items():
                if path[:n] == prefix and (len(path) > n or src is self.values):
                    dst[onto + path[n:]] = mark
        return out


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
    marks.values[path] = _mark(node.start_mark)
    if isinstance(node, yaml.MappingNode):
        return _convert_mapping(node, path, marks, problems)
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), marks, problems) for i, item in enumerate(node.value)]
    if node.tag in _SCALARS:
        return _constructor.construct_object(node)
    return node.value  # strings, and timestamps etc. kept as the text the user wrote


def _convert_mapping(
    node: yaml.MappingNode, path: Path_, marks: Marks, problems: Problems
) -> dict[str, Any]:
    _constructor.flatten_mapping(node)  # YAML merge keys (<<: *anchor)
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key_mark = _mark(key_node.start_mark)
        if not isinstance(key_node, yaml.ScalarNode):
            problems.add_at(key_mark, path, "a key is a mapping or list, expected a plain name")
            continue
        key = key_node.value
        child = (*path, key)
        if key in out:
            first = marks.keys[child]
            problems.add_at(
                key_mark, child, f"duplicate key (first at line {first.line}), expected it once"
            )
            continue
        marks.keys[child] = key_mark
        out[key] = _convert(value_node, child, marks, problems)
    return out
