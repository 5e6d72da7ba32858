"""YAML in and out, the same way everywhere in the renderer.

Loading keeps dates as strings (``2024-01-01`` stays text, as the API server would see it
through kubectl) so every loaded value is JSON-serialisable and applies unchanged.
Dumping is block style, multi-line strings as literal blocks, no line folding and no
key sorting, so output depends only on the objects' own (insertion) order.
"""

from __future__ import annotations

from typing import Any

import yaml

from loopdev.config.aliases import check_expansion, may_alias
from loopdev.config.problems import format_path
from loopdev.render.emit import emit

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
MAX_NODES = 2_000_000  # aliases can multiply a small file ("billion laughs"): stop early


class _MemoResolve:
    """Memoised scalar tag resolution: manifests repeat the same keys and values many
    times, and PyYAML resolves each one with a regex scan. Each subclass has its own memo
    (the loader and the dumper resolve timestamps differently)."""

    _resolved: dict[tuple[str, tuple[bool, bool]], str]

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        base = super().resolve  # type: ignore[misc]
        if kind is not yaml.ScalarNode:
            return str(base(kind, value, implicit))
        key = (value, implicit)
        tag = self._resolved.get(key)
        if tag is None:
            tag = str(base(kind, value, implicit))
            if len(self._resolved) > 100_000:
                self._resolved.clear()
            self._resolved[key] = tag
        return tag


class ManifestLoader(_MemoResolve, _BaseLoader):  # type: ignore[misc,valid-type]
    """SafeLoader without the timestamp resolver (dates stay strings)."""

    _resolved: dict[tuple[str, tuple[bool, bool]], str] = {}


ManifestLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


class AliasBombError(yaml.MarkedYAMLError):
    """Aliases expand a document past the bound (``loopdev.config.aliases``)."""


def check_aliases(text: str, node: yaml.Node) -> None:
    """Raise ``AliasBombError`` at the value to blame when ``node`` expands past the bound."""
    if not may_alias(text):
        return
    bomb = check_expansion(node)
    if bomb is not None:
        where = f"{format_path(bomb.path)}: " if bomb.path else ""
        mark = bomb.node.start_mark
        raise AliasBombError(problem=f"{where}{bomb.message()}", problem_mark=mark)


def construct(loader: ManifestLoader, node: yaml.Node) -> Any:
    """Plain data for ``node``: a direct walk for maps, lists and strings (the bulk of any
    manifest), PyYAML's constructors for everything else (ints, bools, merges, tags).
    An alias becomes a copy, never a shared object."""
    budget = [MAX_NODES]
    return _construct(loader, node, budget)


def _construct(loader: ManifestLoader, node: yaml.Node, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise yaml.YAMLError(f"document expands to more than {MAX_NODES} nodes (alias bomb?)")
    kind, tag = type(node), node.tag
    if kind is yaml.ScalarNode and tag == _STR:
        return node.value
    if kind is yaml.MappingNode and tag == _MAP and all(k.tag != _MERGE for k, _ in node.value):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _construct(loader, key_node, budget)
            try:
                out[key] = _construct(loader, value_node, budget)
            except TypeError:
                raise yaml.YAMLError(f"unhashable mapping key {key!r}") from None
        return out
    if kind is yaml.SequenceNode and tag == _SEQ:
        return [_construct(loader, item, budget) for item in node.value]
    return loader.construct_object(node, deep=True)


class ManifestDumper(_MemoResolve, _BaseDumper):  # type: ignore[misc,valid-type]
    """SafeDumper that writes multi-line strings as ``|`` literal blocks and never anchors
    (a value shared by two objects is written out twice, as the API server would see it).

    Plain dicts, lists and strings take a short path that builds the same nodes the
    SafeRepresenter would; it and the memoised resolution were most of ``to_yaml``'s time.
    """

    _resolved: dict[tuple[str, tuple[bool, bool]], str] = {}

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def represent_data(self, data: Any) -> yaml.Node:
        kind = type(data)
        if kind is str:
            return yaml.ScalarNode(_STR, data, style="|" if "\n" in data else None)
        if kind is dict:
            pairs = [(self.represent_data(k), self.represent_data(v)) for k, v in data.items()]
            return yaml.MappingNode(_MAP, pairs, flow_style=False)
        if kind is list:
            items = [self.represent_data(item) for item in data]
            return yaml.SequenceNode(_SEQ, items, flow_style=False)
        node: yaml.Node = super().represent_data(data)
        return node


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar(_STR, value, style=style)


ManifestDumper.add_representer(str, _represent_str)

_DUMP_OPTS: dict[str, Any] = {
    "default_flow_style": False,
    "sort_keys": False,
    "allow_unicode": True,
    "width": 1 << 30,
}


def dump(data: Any) -> str:
    """One YAML document (no ``---``), ending in a newline; a fast path for plain objects
    writes exactly what PyYAML would (``loopdev.render.emit``)."""
    if type(data) is dict:
        fast = emit(data, dump_pyyaml)
        if fast is not None:
            return fast
    return dump_pyyaml(data)


def dump_pyyaml(data: Any) -> str:
    """PyYAML's own output with the manifest settings."""
    text: str = yaml.dump(data, Dumper=ManifestDumper, **_DUMP_OPTS)
    return text


def dump_fragment(data: Any) -> str:
    """YAML for embedding in a template (the ``toyaml`` filter): no trailing newline."""
    if data is None or data == {} or data == []:
        return "" if data is None else ("{}" if data == {} else "[]")
    text = dump(data)
    if text.endswith("\n...\n"):  # a bare scalar gets an explicit document end
        text = text[: -len("...\n")]
    return text.rstrip("\n")


def load(text: str) -> Any:
    """One YAML document with the manifest rules (raises ``yaml.YAMLError``, and
    ``AliasBombError`` before aliases could expand it without bound)."""
    loader = ManifestLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_aliases(text, node)
        return loader.construct_document(node)
    finally:
        loader.dispose()
