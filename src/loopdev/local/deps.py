"""Which local commands a batch of changed files concerns (pure).

``deps`` are gitignore-style patterns relative to the command's workdir: ``src`` matches the
directory and everything below it, ``*.py`` matches at any depth, ``src/**/*.ts`` as usual.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path, PurePath

import pathspec


@lru_cache(maxsize=256)
def _spec(deps: tuple[str, ...]) -> pathspec.PathSpec:  # type: ignore[type-arg]
    return pathspec.PathSpec.from_lines("gitignore", deps)


def matching(paths: Iterable[str], deps: tuple[str, ...], workdir: Path) -> list[str]:
    """The paths (absolute) that fall under ``deps``, relative to ``workdir``."""
    if not deps:
        return []
    spec = _spec(deps)
    hits: list[str] = []
    for path in paths:
        try:
            rel = PurePath(path).relative_to(workdir)
        except ValueError:
            continue
        if spec.match_file(rel.as_posix()):
            hits.append(path)
    return hits
