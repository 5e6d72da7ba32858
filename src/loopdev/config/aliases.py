"""A bound on YAML alias expansion ("billion laughs"), checked on the composed node tree.

Why before converting: composing shares an anchored node between its aliases, so a 1 kB file
can stand for 9^9 values; converting (or merging, or dumping) copies each alias and hangs.
Sizes are summed over the shared nodes once each, so the check costs one walk of the file's
own nodes, and only files that may hold an alias (``*name`` where a value starts) pay it.
"""

from __future__ import annotations

from dataclasses import dataclass

from yaml.nodes import MappingNode, Node, SequenceNode

from loopdev.config.problems import Path_

MIN_BUDGET = 100_000  # values aliases may expand a document to, at least
RATIO = 10  # ... or this many times the values written in the file, for very large files


@dataclass(frozen=True)
class Expansion:
    """Where a document's expansion goes past the bound: the first value (in file order)
    that is too large by itself, though each of its parts is not."""

    path: Path_
    node: Node
    size: int
    limit: int

    def message(self) -> str:
        return (
            f"YAML aliases expand this value to {self.size:,} values, expected at most "
            f"{self.limit:,} (an alias bomb?); write the repeated parts out, or nest fewer aliases"
        )


# An alias starts a value: at the start, after white space, "[", "{", "," or ":". A "*"
# there in a comment, a quoted or a block scalar is a false alarm that only costs the walk.
_BEFORE_ALIAS = frozenset(" \t\r\n[{,:")


def may_alias(text: str) -> bool:
    """Whether ``text`` can hold an alias at all (a cheap scan that skips the walk; ``find``
    runs in C, and a loopfile's globs put few "*" in it)."""
    at = text.find("*")
    while at != -1:
        if at == 0 or text[at - 1] in _BEFORE_ALIAS:
            return True
        at = text.find("*", at + 1)
    return False


def check_expansion(root: Node) -> Expansion | None:
    """The value to blame when aliases expand ``root`` past the bound, else None."""
    sizes = _sizes(root)
    limit = max(MIN_BUDGET, RATIO * len(sizes))
    if sizes[id(root)] <= limit:
        return None
    path: Path_ = ()
    node = root
    while True:
        for step, child in _children(node):
            if limit < sizes.get(id(child), 0) < sizes[id(node)]:  # smaller: no cycle
                path, node = (*path, step), child
                break
        else:
            return Expansion(path, node, sizes[id(node)], limit)


def _children(node: Node) -> list[tuple[str | int, Node]]:
    """A container's values with the path step leading to each, in file order."""
    if isinstance(node, SequenceNode):
        return list(enumerate(node.value))
    if isinstance(node, MappingNode):
        return [(str(key.value), value) for key, value in node.value]
    return []


def _sizes(root: Node) -> dict[int, int]:
    """id(node) -> how many nodes it stands for once every alias is copied out, for each
    distinct node under ``root``. Iterative (deep files must not hit the recursion limit);
    a node inside itself counts once (the converter reports that problem)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(root, False)]
    open_: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            total = 1
            if isinstance(node, SequenceNode):
                total += sum(sizes.get(id(item), 1) for item in node.value)
            elif isinstance(node, MappingNode):
                total += sum(sizes.get(id(k), 1) + sizes.get(id(v), 1) for k, v in node.value)
            sizes[key] = total
            open_.discard(key)
            continue
        if key in sizes or key in open_:
            continue
        if isinstance(node, SequenceNode):
            open_.add(key)
            stack.append((node, True))
            stack.extend((item, False) for item in reversed(node.value))
        elif isinstance(node, MappingNode):
            open_.add(key)
            stack.append((node, True))
            for k, v in reversed(node.value):
                stack.append((v, False))
                stack.append((k, False))
        else:
            sizes[key] = 1
    return sizes
