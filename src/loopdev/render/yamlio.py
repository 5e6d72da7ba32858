"""YAML in and out, the same way everywhere in the renderer.

Loading keeps dates as strings (``2024-01-01`` stays text, as the API server would see it
through kubectl) so every loaded value is JSON-serialisable and applies unchanged.
Dumping is block style, multi-line strings as literal blocks, no line folding and no
key sorting, so output depends only on the objects' own (insertion) order.
"""

from __future__ import annotations

from typing import Any

import yaml

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class ManifestLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """SafeLoader without the timestamp resolver (dates stay strings)."""


ManifestLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


class ManifestDumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """SafeDumper that writes multi-line strings as ``|`` literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


ManifestDumper.add_representer(str, _represent_str)

_DUMP_OPTS: dict[str, Any] = {
    "default_flow_style": False,
    "sort_keys": False,
    "allow_unicode": True,
    "width": 1 << 30,
}


def dump(data: Any) -> str:
    """One YAML document (no ``---``), ending in a newline."""
    return yaml.dump(data, Dumper=ManifestDumper, **_DUMP_OPTS)


def dump_fragment(data: Any) -> str:
    """YAML for embedding in a template (the ``toyaml`` filter): no trailing newline."""
    if data is None or data == {} or data == []:
        return "" if data is None else ("{}" if data == {} else "[]")
    return dump(data).rstrip("\n")


def load(text: str) -> Any:
    """One YAML document with the manifest rules (raises ``yaml.YAMLError``)."""
    return yaml.load(text, Loader=ManifestLoader)  # noqa: S506 - a SafeLoader subclass
