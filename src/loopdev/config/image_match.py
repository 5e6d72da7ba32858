"""Which Dockerfile builds which image the manifests use, for ``loopdev init`` (pure).

Why: loopdev injects a built image where a container's repository equals the loopfile
image's name, so a starter that names the image after the folder (``initrepo``) while the
manifest says ``ghcr.io/acme/shop:1.2`` injects nothing. One Dockerfile and one reference
belong together; otherwise each Dockerfile takes the reference whose last path segment is
most like its own name (``web.Dockerfile``, its directory, its parent directories), best
pairs first; what stays unpaired is reported, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

THRESHOLD = (
    0.6  # below this, names are unrelated (``api`` vs ``web`` is 0.0, ``ui`` vs ``web-ui`` 0.9)
)
_GENERIC = frozenset({"docker", "dockerfiles", "build", "image", "images", "."})


@dataclass
class Matching:
    """Image name -> Dockerfile (relative path), plus what found no partner."""

    images: dict[str, Path] = field(default_factory=dict)
    matched: dict[Path, str] = field(default_factory=dict)  # Dockerfile -> reference
    lone_dockerfiles: list[tuple[Path, str]] = field(default_factory=list)  # (file, name)
    lone_refs: list[str] = field(default_factory=list)
    duplicates: list[tuple[Path, str]] = field(default_factory=list)  # (file, name taken)


def last_segment(repo: str) -> str:
    """``ghcr.io/acme/shop`` -> ``shop``."""
    return repo.rstrip("/").rsplit("/", 1)[-1]


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def dockerfile_names(dockerfile: Path, project: str) -> list[str]:
    """What a Dockerfile may be called, most telling first: ``web`` of ``web.Dockerfile``
    or ``Dockerfile.web``, then its directory and the directories above, then the project."""
    names: list[str] = []
    name = dockerfile.name
    if name.endswith(".Dockerfile"):
        names.append(name[: -len(".Dockerfile")])
    elif name.startswith("Dockerfile."):
        names.append(name[len("Dockerfile.") :])
    names += [p for p in reversed(dockerfile.parent.parts) if p.lower() not in _GENERIC]
    names.append(project)
    return [n for n in dict.fromkeys(_norm(n) for n in names) if n]


def similarity(a: str, b: str) -> float:
    """1 for the same name, 0.9 when one is a whole dash-separated part of the other
    (``api`` and ``shop-api``), else difflib's ratio."""
    a, b = _norm(a), _norm(b)
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    if f"-{a}-" in f"-{b}-" or f"-{b}-" in f"-{a}-":
        return 0.9
    return SequenceMatcher(None, a, b).ratio()


def _score(names: list[str], repo: str) -> float:
    segment = last_segment(repo)
    return max(
        (similarity(n, segment) * (1.0 if i == 0 else 0.95) for i, n in enumerate(names)),
        default=0.0,
    )


def match_images(
    dockerfiles: list[Path], refs: list[str], project: str, fallback: list[str]
) -> Matching:
    """Pair ``dockerfiles`` with image repositories ``refs``; an unpaired Dockerfile is named
    ``fallback[i]`` (what init named it before there were references to match)."""
    refs = list(dict.fromkeys(refs))
    out = Matching()
    pairs: dict[int, str] = {}
    if len(dockerfiles) == 1 and len(refs) == 1:
        pairs[0] = refs[0]
    else:
        names = [dockerfile_names(d, project) for d in dockerfiles]
        scored = sorted(
            (
                (-_score(names[i], repo), i, j, repo)
                for i in range(len(dockerfiles))
                for j, repo in enumerate(refs)
            ),
        )
        taken: set[str] = set()
        for negative, i, _, repo in scored:
            if -negative < THRESHOLD:
                break
            if i not in pairs and repo not in taken:
                pairs[i] = repo
                taken.add(repo)
    for i, dockerfile in enumerate(dockerfiles):
        name = pairs.get(i) or fallback[i]
        if name in out.images:  # two Dockerfiles, one name: the first keeps it
            out.duplicates.append((dockerfile, name))
            continue
        out.images[name] = dockerfile
        if i in pairs:
            out.matched[dockerfile] = pairs[i]
        else:
            out.lone_dockerfiles.append((dockerfile, name))
    out.lone_refs = [r for r in refs if r not in pairs.values()]
    return out
