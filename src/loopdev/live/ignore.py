"""Which paths under a watched root matter: .dockerignore, .gitignore, .loopignore, loopfile.

One ``RootIgnore`` per watched root. Image contexts use the build engine's ``.dockerignore``
matcher (the Docker SDK's own rules, so we watch exactly what the build sends; like Docker,
only the context's top-level ``.dockerignore`` counts). Every root also honours the
``.gitignore`` and ``.loopignore`` files at its top and in every directory below it, the way
git does: a file's patterns are relative to its directory, a deeper file's match wins (so
its ``!`` re-includes), and nothing below an excluded directory comes back. They only change
what is watched and synced, never what is built.

Matching is ``pathspec``'s ``GitIgnoreSpec``: a nested file's patterns are rebased onto the
root (``build/`` in ``api/`` becomes ``/api/**/build/``) and appended after its parents', so
one match per path gives git's verdict (checked against ``git ls-files`` on random trees).
Nested files are read once per directory and ``RootIgnore``, on first need; the watch
planner's walk hands over the names it listed anyway, so planning opens only files that
exist. Trees nobody wants watched (VCS metadata, dependency and cache directories) are
skipped whatever the files say.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pathspec
from docker.utils.build import PatternMatcher

from loopdev.build.context import context_patterns, dockerfile_in_context, make_matcher
from loopdev.config.model import Image

# Directory names never worth watching: they are huge, churn constantly, or both.
ALWAYS_IGNORED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".venv",
        "venv",
        ".idea",
    }
)
# Editor droppings (vim swap files and probe, emacs locks, JetBrains temp files, backups).
_NOISE = re.compile(
    r"(\.sw[a-p]x?$|~$|^\.#|^#.*#$|^4913$|\.___jb_\w+___$|^\.DS_Store$|\.py[co]$|^flycheck_)"
)
IGNORE_FILES = (".gitignore", ".loopignore")


def read_lines(path: str | Path) -> list[str]:
    """An ignore file's lines (none when it is missing or unreadable). Plain ``open``: a
    missing file costs a third of ``Path.read_text``'s, and most directories have none."""
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


def is_noise(name: str) -> bool:
    """An editor temp file or compiled artefact: never a meaningful change."""
    return bool(_NOISE.search(name))


GitSpec = pathspec.GitIgnoreSpec
_GLOB_CHARS = re.compile(r"([\\*?\[\]])")


class Rules(NamedTuple):
    """Git/loop patterns twice over: as written, for files, and with dir-only patterns'
    trailing '/' dropped, for directories (judged without a trailing '/'). pathspec ranks a
    direct match above one through a parent directory, but only for paths without a
    trailing '/': given ``a/b/``, ``!a/`` would outrank ``b/`` and ``x/**`` match ``x/``."""

    files: GitSpec
    dirs: GitSpec

    def then(self, deeper: Rules) -> Rules:
        """These patterns followed by a deeper directory's (later patterns win)."""
        return Rules(self.files + deeper.files, self.dirs + deeper.dirs)


NO_RULES = Rules(GitSpec([]), GitSpec([]))


@dataclass(frozen=True)
class RootIgnore:
    """Ignore rules of one watched root; paths are judged relative to ``root``.

    Per-directory results are cached and never invalidated: when an ignore file changes,
    callers replace the whole ``RootIgnore`` (the watcher re-plans, the live-update
    reconciler reloads on any ``RULE_FILES`` name).
    """

    root: str  # absolute, resolved
    docker: PatternMatcher | None = None
    git: Rules | None = None  # the root's own .gitignore/.loopignore (and extra patterns)
    # rel dir -> its own ignore files' patterns, rebased onto the root (None: none there)
    _specs: dict[str, Rules | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # rel dir -> every pattern that applies inside it, or None when git/loop rules exclude it
    _inside: dict[str, Rules | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # rel dir -> excluded by its parent's rules (the walk asks, then again for its children)
    _excluded: dict[str, bool] = field(default_factory=dict, init=False, repr=False, compare=False)

    def relative(self, path: str) -> str | None:
        """``path`` relative to the root ('/'-joined), or None when it lies outside."""
        if path == self.root:
            return ""
        prefix = self.root.rstrip("/") + "/"
        return path[len(prefix) :] if path.startswith(prefix) else None

    def ignored(self, path: str, is_dir: bool = False) -> bool:
        """True when ``path`` (absolute) is outside the root or excluded by any rule."""
        rel = self.relative(path)
        if rel is None:
            return True
        if rel == "":
            return False
        parts = rel.split("/")
        if any(p in ALWAYS_IGNORED_DIRS for p in (parts if is_dir else parts[:-1])):
            return True
        if is_noise(parts[-1]):
            return True
        rules = self._rules_inside(rel.rpartition("/")[0])
        if rules is None:
            return True
        if self._dir_excluded(rel, rules) if is_dir else rules.files.match_file(rel):
            return True
        return self.docker is not None and bool(self.docker.matches(rel))

    def prunes(self, dir_path: str) -> bool:
        """Whether a directory's whole tree can be skipped (no ``!`` exception reaches into it)."""
        if not self.ignored(dir_path, is_dir=True):
            return False
        if self.docker is None:
            return True
        rel = self.relative(dir_path) or ""
        exceptions = [p.cleaned_pattern for p in self.docker.patterns if p.exclusion]
        return not any(e.startswith(rel + "/") for e in exceptions)

    def learn(self, dir_path: str, names: Collection[str]) -> None:
        """Record which ignore files ``dir_path`` holds, from a listing the caller already has,
        so consulting the directory later opens only files that exist."""
        rel = self.relative(dir_path)
        if rel and rel not in self._specs:
            present = [n for n in IGNORE_FILES if n in names]
            self._specs[rel] = dir_rules(dir_path, rel, present) if present else None

    def _rules_inside(self, rel_dir: str) -> Rules | None:
        """All patterns for paths inside ``rel_dir``, root's first, deepest directory's last,
        so one pathspec match gives git's verdict (the last direct match wins, in the deepest
        file that has one). None when the directory is excluded: git never looks inside,
        so nothing there can be re-included and its own ignore files are never read."""
        if rel_dir in self._inside:  # not try/except: a miss (every directory once) is common
            return self._inside[rel_dir]
        rules: Rules | None
        if rel_dir == "":
            rules = self.git or NO_RULES
        else:
            rules = self._rules_inside(rel_dir.rpartition("/")[0])
            if rules is not None and self._dir_excluded(rel_dir, rules):
                rules = None
            elif rules is not None:
                own = self._own(rel_dir)
                rules = rules if own is None else rules.then(own)
        self._inside[rel_dir] = rules
        return rules

    def _dir_excluded(self, rel_dir: str, parent_rules: Rules) -> bool:
        hit = self._excluded.get(rel_dir)
        if hit is None:
            hit = self._excluded[rel_dir] = parent_rules.dirs.match_file(rel_dir)
        return hit

    def _own(self, rel_dir: str) -> Rules | None:
        if rel_dir not in self._specs:
            self._specs[rel_dir] = dir_rules(os.path.join(self.root, rel_dir), rel_dir)
        return self._specs[rel_dir]


def dir_rules(
    directory: str | Path, rel_dir: str = "", names: Iterable[str] = IGNORE_FILES
) -> Rules | None:
    """One directory's ignore files (``.loopignore`` after ``.gitignore``, so it wins a tie)
    as patterns relative to the root ``rel_dir`` is in, or None when they hold none."""
    lines: list[str] = []
    for name in names:
        lines.extend(read_lines(os.path.join(directory, name)))
    return compile_rules(lines, rel_dir)


def rebase(pattern: str, rel_dir: str) -> str:
    """A pattern of ``rel_dir``'s ignore file as the same pattern at the root: it is relative
    to its directory, and without a slash (a trailing one aside) it matches at any depth
    below it."""
    negated = pattern.startswith("!")
    body = pattern[1:] if negated else pattern
    anchored = "/" in body.rstrip().rstrip("/")
    base = "/" + _GLOB_CHARS.sub(r"\\\1", rel_dir) + "/"
    return ("!" if negated else "") + base + (body.lstrip("/") if anchored else "**/" + body)


def compile_rules(lines: Iterable[str], rel_dir: str = "") -> Rules | None:
    """Patterns from ignore-file lines. Lines that match nothing in git (``/``, a lone
    ``!``) or that pathspec rejects are skipped, as git skips them."""
    kept = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    kept = [ln for ln in kept if ln.removeprefix("!").strip().strip("/")]
    return _compiled(tuple(kept), rel_dir) if kept else None


@functools.lru_cache(maxsize=2048)
def _compiled(lines: tuple[str, ...], rel_dir: str) -> Rules | None:
    """Compiling costs ~0.1 ms a pattern and every re-plan (a new directory) reads the files
    again: unchanged files in the same place reuse their patterns (never mutated)."""
    kept = [rebase(ln, rel_dir) for ln in lines] if rel_dir else list(lines)
    try:
        files = GitSpec.from_lines(kept)
    except ValueError:  # e.g. a trailing backslash: find the culprits only when there are any
        kept = [ln for ln in kept if _valid(ln)]
        files = GitSpec.from_lines(kept)
    if not kept:
        return None
    dirs = list(files.patterns)  # most lines read the same for directories: compiled once
    for i, line in enumerate(kept):
        if (plain := _for_dirs(line)) != line:
            dirs[i] = GitSpec.from_lines([plain]).patterns[0]
    return Rules(files, GitSpec(dirs))


def _for_dirs(pattern: str) -> str:
    """A dir-only pattern (trailing '/') as a plain one: for paths known to be directories."""
    stripped = pattern.rstrip()
    if not stripped.endswith("/"):
        return pattern
    plain = stripped.rstrip("/")
    return pattern if plain.endswith("\\") else plain


def _valid(line: str) -> bool:
    try:
        GitSpec.from_lines([line])
    except ValueError:
        return False
    return True


def for_image(image: Image) -> RootIgnore:
    """Rules for an image context: exactly what the build sends, minus git/loop ignores."""
    root = image.context.resolve()
    patterns = context_patterns(root, image.ignore)
    matcher = make_matcher(patterns, dockerfile_in_context(root, image.dockerfile))
    return RootIgnore(str(root), matcher, dir_rules(root))


def for_dir(root: Path, extra: Iterable[str] = ()) -> RootIgnore:
    """Rules for a plain directory (a local command's deps root): git/loop ignores + extras
    (which count as lines of the root's own ignore file)."""
    resolved = root.resolve()
    lines = [ln for name in IGNORE_FILES for ln in read_lines(resolved / name)]
    return RootIgnore(str(resolved), None, compile_rules([*lines, *extra]))


def is_virtualenv(path: str) -> bool:
    """A virtualenv has a ``pyvenv.cfg`` at its top, whatever the directory is called."""
    return os.path.exists(os.path.join(path, "pyvenv.cfg"))
