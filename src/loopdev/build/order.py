"""Build order: images that build ``FROM`` another loopfile image come after it. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from loopdev.build.dockerfile import FromLine, repository
from loopdev.errors import BuildError


def loopfile_bases(froms: Iterable[FromLine], image_names: Iterable[str]) -> tuple[str, ...]:
    """The loopfile images among a Dockerfile's ``FROM`` references (stage refs excluded)."""
    names = set(image_names)
    found: list[str] = []
    for fl in froms:
        repo = repository(fl.image)
        if not fl.is_stage_ref and repo in names and repo not in found:
            found.append(repo)
    return tuple(found)


def closure(deps: Mapping[str, Iterable[str]], wanted: Iterable[str]) -> set[str]:
    """``wanted`` plus everything they build from, transitively."""
    out: set[str] = set()
    stack = list(wanted)
    while stack:
        name = stack.pop()
        if name not in out:
            out.add(name)
            stack.extend(deps.get(name, ()))
    return out


def topo_order(deps: Mapping[str, Iterable[str]]) -> list[str]:
    """Bases before dependents, ties broken by name; a cycle is an error naming it."""
    remaining = {n: set(d) & set(deps) for n, d in deps.items()}
    order: list[str] = []
    while remaining:
        ready = sorted(n for n, d in remaining.items() if not d)
        if not ready:
            cycle = " -> ".join(sorted(remaining))
            raise BuildError(
                f"images build FROM each other in a cycle: {cycle}",
                "break the cycle: an image cannot (indirectly) build FROM itself",
            )
        for n in ready:
            order.append(n)
            del remaining[n]
        for d in remaining.values():
            d.difference_update(ready)
    return order
