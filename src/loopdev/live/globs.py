"""Glob matching for loopfile patterns (``sync.src``, ``run.trigger``, ``rebuildOn``).

Patterns are relative to the image context and anchored there; ``*`` stays within one path
segment, ``**`` crosses segments, and a pattern naming a directory covers everything below
it (gitignore's wildmatch rules, via ``pathspec``).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import pathspec

GLOB_CHARS = frozenset("*?[")


def has_glob(pattern: str) -> bool:
    return any(c in GLOB_CHARS for c in pattern)


@lru_cache(maxsize=512)
def _spec(patterns: tuple[str, ...]) -> pathspec.PathSpec:  # type: ignore[type-arg]
    anchored = ["/" + p.lstrip("/").removeprefix("./") for p in patterns if p.strip()]
    return pathspec.GitIgnoreSpec.from_lines(anchored)


def matches_any(patterns: Iterable[str], rel: str) -> bool:
    """Whether ``rel`` (context-relative, '/'-joined) matches one of ``patterns``."""
    pats = tuple(patterns)
    return bool(pats) and _spec(pats).match_file(rel)


def static_prefix(pattern: str) -> str:
    """Leading segments of a glob before its first wildcard: ``static/**/*.css`` -> ``static``."""
    out: list[str] = []
    for seg in pattern.strip("/").removeprefix("./").split("/"):
        if has_glob(seg):
            break
        out.append(seg)
    return "/".join(out)
