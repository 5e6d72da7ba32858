"""Parse YAML into plain data, keeping the composed node tree to locate any path later.

Why the node tree instead of a path -> mark table: marks are needed only for the few paths
that have a problem, so they are found on demand by walking the nodes. Building a table for
every node cost as much as composing the document (measured: bench/load_loopfile.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from loopdev.config.aliases import check_expansion, may_alias
from loopdev.config.problems import Mark, Path_, Problems


class _MemoResolver(yaml.resolver.Resolver):
    """The safe resolver, remembering each scalar's implicit tag: a loopfile repeats its keys
    and values many times, and resolving each by regex was a fifth of composing."""

    _memo: dict[tuple[Any, Any, Any], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        key = (kind, value, implicit)
        tag = self._memo.get(key)
        if tag is None:
            if len(self._memo) > 50_000:
                self._memo.clear()
            resolved: str = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
            tag = self._memo[key] = resolved
        return tag


try:
    from yaml._yaml import CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _Loader: type[Any] = yaml.SafeLoader
else:

    class _CLoader(CParser, yaml.constructor.SafeConstructor, _MemoResolver):
        """libyaml's parser with the memoizing safe resolver."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            _MemoResolver.__init__(self)

    _Loader = _CLoader

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
Pair = tuple[Node, Node]


@dataclass(frozen=True)
class Marks:
    """Where the value at a key path, and the key introducing it, start in the file.

    ``layers`` are overlays (a profile's subtree under its prefix), consulted newest first, so
    that after a profile is merged, its paths point into the profile. A layer grafted ``at`` a
    path answers only for paths below it (a JSON patch's value answers for where it landed).
    """

    root: Node | None = None
    layers: tuple[tuple[Marks, Path_, Path_], ...] = ()

    def overlay(self, source: Marks, prefix: Path_, at: Path_ = ()) -> Marks:
        """These marks with ``source``'s marks under ``prefix`` taking precedence for the
        paths under ``at`` (``at`` itself maps to ``prefix``)."""
        return Marks(self.root, (*self.layers, (source, prefix, at)))

    def value_at(self, path: Path_) -> Mark:
        """The mark of the deepest node on ``path`` that exists (the document start at worst)."""
        for end in range(len(path), -1, -1):
            found = self._exact(path[:end])
            if found is not None:
                return _mark(found[1].start_mark)
        return Mark(1, 1)

    def key_at(self, path: Path_) -> Mark:
        """The mark of the key that introduces ``path``, else of its value."""
        found = self._exact(path)
        if found is not None and found[0] is not None:
            return _mark(found[0].start_mark)
        return self.value_at(path)

    def _exact(self, path: Path_) -> tuple[Node | None, Node] | None:
        if path:
            for source, prefix, at in reversed(self.layers):
                if path[: len(at)] != at:
                    continue
                found = _find(source.root, prefix + path[len(at) :])
                if found is not None:
                    return found
        return _find(self.root, path)


def _find(root: Node | None, path: Path_) -> tuple[Node | None, Node] | None:
    """The (key node, value node) at ``path`` under ``root``, as the data was built."""
    if root is None:
        return None
    key: Node | None = None
    node = root
    for part in path:
        if isinstance(node, MappingNode) and isinstance(part, str):
            pair = next((p for p in entries(node) if p[0].value == part), None)
            if pair is None:
                return None
            key, node = pair
        elif isinstance(node, SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return None
            key, node = None, node.value[part]
        else:
            return None
    return key, node


def entries(node: MappingNode, _seen: frozenset[int] = frozenset()) -> Iterator[Pair]:
    """A mapping's scalar-keyed entries in precedence order: its own, then merged (``<<``);
    a mapping merged into itself is not visited again."""
    for pair in node.value:
        if pair[0].tag != _MERGE and isinstance(pair[0], ScalarNode):
            yield pair
    seen = _seen | {id(node)}
    for source in _merge_sources(node):
        if id(source) not in seen:
            yield from entries(source, seen)


def _merge_sources(node: MappingNode) -> list[MappingNode]:
    sources: list[MappingNode] = []
    for key, value in node.value:
        if key.tag == _MERGE:
            items = value.value if isinstance(value, SequenceNode) else [value]
            sources += [item for item in items if isinstance(item, MappingNode)]
    return sources


@dataclass
class Document:
    data: Any
    marks: Marks


class _Irregular(Exception):
    """The fast conversion met something to report; the located conversion takes over."""


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
    if node is None:
        return Document(None, Marks())
    if may_alias(text):
        bomb = check_expansion(node)
        if bomb is not None:
            problems.add_at(Marks(node).key_at(bomb.path), bomb.path, bomb.message())
            return None
    try:
        data = _convert(node, None, problems, set())
    except (_Irregular, RecursionError):  # a problem, or an alias inside its own anchor
        try:
            data = _convert(node, (), problems, set())
        except RecursionError:
            problems.add_at(Mark(1, 1), (), "nested too deeply, expected a loopfile")
            return None
    return Document(data, Marks(node))


def _mark(m: Any) -> Mark:
    """A 1-based Mark from a 0-based yaml mark."""
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


def _convert(node: Node, path: Path_ | None, problems: Problems, active: set[int]) -> Any:
    """Plain data for ``node``. With ``path`` None (the fast pass) any problem raises
    ``_Irregular``; with a path, problems are reported at their keys and skipped, and
    ``active`` holds the containers being converted, so an alias to one of them (a value
    inside itself) is a problem instead of endless recursion."""
    if node.tag == _STR:
        return node.value
    if isinstance(node, MappingNode):
        return _convert_mapping(node, path, problems, active)
    if isinstance(node, SequenceNode):
        if path is None:
            return [_convert(item, None, problems, active) for item in node.value]
        return _convert_sequence(node, path, problems, active)
    construct = _SCALARS.get(node.tag)
    return construct(node) if construct else node.value  # timestamps etc. stay as written


def _convert_mapping(
    node: MappingNode, path: Path_ | None, problems: Problems, active: set[int]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    merged = False
    if path is not None:
        active.add(id(node))
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            merged = True
            continue
        if not isinstance(key_node, ScalarNode):
            if path is None:
                raise _Irregular
            msg = "a key is a mapping or list, expected a plain name"
            problems.add_at(_mark(key_node.start_mark), path, msg)
            continue
        key = key_node.value
        if key in out:
            if path is None:
                raise _Irregular
            _duplicate(node, key_node, (*path, key), problems)
            continue
        if path is None:
            out[key] = _convert(value_node, None, problems, active)
        elif id(value_node) in active:
            msg = "this value contains itself through an alias, expected a tree"
            problems.add_at(_mark(key_node.start_mark), (*path, key), msg)
        else:
            out[key] = _convert(value_node, (*path, key), problems, active)
    if merged:
        _merge_into(out, node, path, problems, active)
    active.discard(id(node))
    return out


def _convert_sequence(
    node: SequenceNode, path: Path_, problems: Problems, active: set[int]
) -> list[Any]:
    out: list[Any] = []
    active.add(id(node))
    for i, item in enumerate(node.value):
        if id(item) in active:
            msg = "this list contains itself through an alias, expected a tree"
            problems.add_at(_mark(node.start_mark), (*path, i), msg)
        else:
            out.append(_convert(item, (*path, i), problems, active))
    active.discard(id(node))
    return out


def _merge_into(
    out: dict[str, Any],
    node: MappingNode,
    path: Path_ | None,
    problems: Problems,
    active: set[int],
) -> None:
    """YAML merge keys (``<<: *base``): merged entries fill in keys the mapping lacks."""
    for key_node, value in node.value:
        if key_node.tag != _MERGE:
            continue
        items = value.value if isinstance(value, SequenceNode) else [value]
        if not all(isinstance(item, MappingNode) for item in items):
            if path is None:
                raise _Irregular
            msg = (
                "a merge key (<<) takes a mapping, expected an alias to a mapping or a list of them"
            )
            problems.add_at(_mark(key_node.start_mark), path, msg)
            continue
        for source in items:
            if path is not None and id(source) in active:
                msg = "a merge key (<<) merges a mapping into itself, expected another mapping"
                problems.add_at(_mark(key_node.start_mark), path, msg)
                continue
            for name, item in _convert_mapping(source, path, problems, active).items():
                out.setdefault(name, item)


def _duplicate(node: MappingNode, key_node: Node, path: Path_, problems: Problems) -> None:
    first = next(k for k, _ in node.value if k.tag != _MERGE and k.value == key_node.value)
    line = first.start_mark.line + 1
    msg = f"duplicate key (first at line {line}), expected it once"
    problems.add_at(_mark(key_node.start_mark), path, msg)
