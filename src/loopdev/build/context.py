"""The files of a build context after ``.dockerignore``: exactly what the Docker SDK would tar.

The rules are the Docker SDK's ``PatternMatcher`` (a port of moby's fileutils: ``!``
exceptions, ``**``, leading ``/``, parent-directory matches, the directory-skip heuristic)
with one deliberate fix: the SDK lower-cases names and patterns, but Docker on Linux
matches case-sensitively, so we do too. We build the tar ourselves from this exact list,
so the set we hash is the set the daemon receives. The walk is one ``os.scandir`` pass.
"""

from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path
from typing import NamedTuple

from loopdev.adapters.docker import PatternMatcher, normalize_slashes, translate

DOCKERIGNORE = ".dockerignore"
RACY_NS = 1_000_000_000  # entries changed this recently may change again unseen


class Entry(NamedTuple):
    """One path the context sends: a regular file, directory or symlink (relative, '/'-joined).

    A NamedTuple rather than a dataclass: a context has 10^4..10^5 of them, built per digest.
    """

    path: str
    kind: str  # "f" file, "d" directory, "l" symlink, "o" other (fifo, socket: not sent)
    mode: int
    size: int = 0
    mtime_ns: int = 0
    link: str = ""


def parse_ignore_text(text: str) -> list[str]:
    """Ignore-file lines the way the SDK reads them: stripped, no blanks, no ``#`` comments."""
    return [ln for ln in (line.strip() for line in text.splitlines()) if ln and ln[0] != "#"]


def read_dockerignore(context: Path) -> list[str]:
    """The context's ``.dockerignore`` patterns (none when the file is absent)."""
    try:
        return parse_ignore_text((context / DOCKERIGNORE).read_text())
    except FileNotFoundError:
        return []


def context_patterns(context: Path, extra: tuple[str, ...] | list[str] = ()) -> list[str]:
    """``.dockerignore`` patterns followed by the loopfile's extra ``ignore`` patterns."""
    return [*read_dockerignore(context), *parse_ignore_text("\n".join(extra))]


def dockerfile_in_context(context: Path, dockerfile: Path) -> str | None:
    """The Dockerfile's path relative to the context, or None when it lies outside it."""
    try:
        rel = dockerfile.resolve().relative_to(context.resolve())
    except ValueError:
        return None
    return rel.as_posix()


def make_matcher(patterns: list[str], dockerfile_rel: str | None) -> PatternMatcher:
    """The SDK's matcher with its implicit rules: the Dockerfile and .dockerignore always go."""
    return PatternMatcher([*patterns, f"!{dockerfile_rel}"] if dockerfile_rel else list(patterns))


# rel dir -> (dir mtime_ns, [(name, sent, descend)]): a directory's decisions stay valid
# while its mtime (changed by any create/delete/rename inside it) stays the same.
DirCache = dict[str, tuple[int, list[tuple[str, bool, bool]]]]


class Listing:
    """Decisions from the previous listing (``old``) and those of this one (``new``)."""

    def __init__(self, old: DirCache | None = None) -> None:
        self.old: DirCache = old or {}
        self.new: DirCache = {}
        self.fresh_after = time.time_ns() - RACY_NS


def context_matcher(patterns: list[str], dockerfile_rel: str | None) -> FastMatcher:
    """The matcher the build uses, for callers that test single paths (the file watcher)."""
    return FastMatcher(make_matcher(patterns, dockerfile_rel))


def list_context(
    context: Path, patterns: list[str], dockerfile_rel: str | None, listing: Listing | None = None
) -> list[Entry]:
    """Every entry the context sends, sorted by path.

    With a ``listing`` from a previous run, unchanged directories skip scandir and matching:
    only their sent entries are lstat'ed (for size, mtime and mode).
    """
    matcher = FastMatcher(make_matcher(patterns, dockerfile_rel))
    out: list[Entry] = []
    _walk(str(context), "", matcher, out, listing or Listing())
    out.sort(key=lambda e: e.path)
    return out


class FastMatcher:
    """``PatternMatcher.matches`` with regexes compiled once and parent matches per directory.

    Same decisions as the SDK except case: Docker is case-sensitive, the SDK is not.
    """

    def __init__(self, pm: PatternMatcher) -> None:
        self.rules = [
            (re.compile(translate(p.cleaned_pattern)).match, p.exclusion, len(p.dirs))
            for p in pm.patterns
        ]
        self.exclusions = [normalize_slashes(p.cleaned_pattern) for p in pm.patterns if p.exclusion]
        self._hits_cache: dict[str, list[bool]] = {}
        self._skip_cache: dict[str, bool] = {}

    def parent_hits(self, rel_dir: str) -> list[bool]:
        """Per rule: does it match this directory's first-n-components prefix (SDK rule)?"""
        dirs = [d for d in rel_dir.split("/") if d and d != "."]
        return [
            bool(dirs) and n <= len(dirs) and match("/".join(dirs[:n])) is not None
            for match, _, n in self.rules
        ]

    def excluded(self, rel: str) -> bool:
        """Whether one context-relative path ('/'-separated) is left out of the context,
        including the walk's rule that an excluded directory without exceptions is skipped."""
        parts = rel.split("/")
        for i in range(1, len(parts)):
            if self._skipped_dir("/".join(parts[:i])):
                return True
        return self._matches_one(rel)

    def _matches_one(self, rel: str) -> bool:
        parent = rel.rpartition("/")[0]
        hits = self._hits_cache.get(parent)
        if hits is None:
            hits = self._hits_cache[parent] = self.parent_hits(parent)
        return self.matches(rel, hits)

    def _skipped_dir(self, rel: str) -> bool:
        skipped = self._skip_cache.get(rel)
        if skipped is None:
            skipped = self._matches_one(rel) and not any(
                p.startswith(normalize_slashes(rel)) for p in self.exclusions
            )
            self._skip_cache[rel] = skipped
        return skipped

    def matches(self, rel: str, parent_hits: list[bool]) -> bool:
        matched = False
        for (match, exclusion, _), parent in zip(self.rules, parent_hits, strict=True):
            if parent or match(rel) is not None:
                matched = not exclusion
        return matched


def _walk(root: str, rel_dir: str, matcher: FastMatcher, out: list[Entry], lst: Listing) -> None:
    """Mirror of ``PatternMatcher.walk``: same yield and descend decisions, one lstat each."""
    path = f"{root}/{rel_dir}" if rel_dir else root
    try:
        mtime = os.lstat(path).st_mtime_ns
    except FileNotFoundError:
        return
    prefix = f"{rel_dir}/" if rel_dir else ""
    rec = lst.old.get(rel_dir)
    if rec is None or rec[0] != mtime:
        decisions = _scan(root, rel_dir, prefix, matcher, out)
        if mtime < lst.fresh_after:
            lst.new[rel_dir] = (mtime, decisions)
    else:  # unchanged directory: same names, same decisions; only re-stat what is sent
        decisions = rec[1]
        lst.new[rel_dir] = rec
        lstat, is_reg, base = os.lstat, stat.S_ISREG, f"{path}/"
        for name, sent, _ in decisions:
            if not sent:
                continue
            try:
                st = lstat(base + name)
            except FileNotFoundError:
                continue
            if is_reg(st.st_mode):
                out.append(
                    Entry(prefix + name, "f", st.st_mode & 0o7777, st.st_size, st.st_mtime_ns)
                )
            else:
                out.append(_entry(root, prefix + name, st))
    for name, _, descend in decisions:
        if descend:
            _walk(root, prefix + name, matcher, out, lst)


def _scan(
    root: str, rel_dir: str, prefix: str, matcher: FastMatcher, out: list[Entry]
) -> list[tuple[str, bool, bool]]:
    """Match one directory's entries; add the sent ones to ``out``; return the decisions."""
    with os.scandir(os.path.join(root, rel_dir) if rel_dir else root) as it:
        entries = list(it)
    hits = matcher.parent_hits(rel_dir)
    decisions = []
    for de in entries:
        rel = prefix + de.name
        excluded = matcher.matches(rel, hits)
        try:
            st = de.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if not excluded:
            out.append(_entry(root, rel, st))
        descend = stat.S_ISDIR(st.st_mode) and (
            not excluded or any(p.startswith(normalize_slashes(rel)) for p in matcher.exclusions)
        )
        decisions.append((de.name, not excluded, descend))
    return decisions


def _entry(root: str, rel: str, st: os.stat_result) -> Entry:
    mode = st.st_mode
    perm = stat.S_IMODE(mode)
    if stat.S_ISREG(mode):
        return Entry(rel, "f", perm, st.st_size, st.st_mtime_ns)
    if stat.S_ISDIR(mode):
        return Entry(rel, "d", perm)
    if stat.S_ISLNK(mode):
        return Entry(rel, "l", perm, link=os.readlink(os.path.join(root, rel)))
    return Entry(rel, "o", perm)
