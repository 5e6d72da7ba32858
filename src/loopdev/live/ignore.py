"""Which paths under a watched root matter: .dockerignore, .gitignore, .loopignore, loopfile.

One ``RootIgnore`` per watched root. Image contexts use the build engine's ``.dockerignore``
matcher (the Docker SDK's own rules, so we watch exactly what the build sends); every root
also honours ``.gitignore`` and ``.loopignore`` with gitignore semantics (``pathspec``), and a
short list of trees nobody wants watched (VCS metadata, dependency and cache directories).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

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


def read_lines(path: Path) -> list[str]:
    """An ignore file's lines (none when it is missing or unreadable)."""
    try:
        return path.read_text(errors="replace").splitlines()
    except OSError:
        return []


def is_noise(name: str) -> bool:
    """An editor temp file or compiled artefact: never a meaningful change."""
    return bool(_NOISE.search(name))


@dataclass(frozen=True)
class RootIgnore:
    """Ignore rules of one watched root; paths are judged relative to ``root``."""

    root: str  # absolute, resolved
    docker: PatternMatcher | None = None
    git: pathspec.PathSpec | None = None  # type: ignore[type-arg]

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
        if self.git is not None and self.git.match_file(rel + "/" if is_dir else rel):
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


def gitignore_spec(dirs: Iterable[Path]) -> pathspec.PathSpec | None:  # type: ignore[type-arg]
    """``.gitignore`` + ``.loopignore`` lines of the given directories, gitignore semantics."""
    lines: list[str] = []
    for d in dirs:
        for name in IGNORE_FILES:
            lines.extend(read_lines(d / name))
    lines = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def for_image(image: Image) -> RootIgnore:
    """Rules for an image context: exactly what the build sends, minus git/loop ignores."""
    root = image.context.resolve()
    patterns = context_patterns(root, image.ignore)
    matcher = make_matcher(patterns, dockerfile_in_context(root, image.dockerfile))
    return RootIgnore(str(root), matcher, gitignore_spec([root]))


def for_dir(root: Path, extra: Iterable[str] = ()) -> RootIgnore:
    """Rules for a plain directory (a local command's deps root): git/loop ignores + extras."""
    resolved = root.resolve()
    spec = gitignore_spec([resolved])
    extra_lines = [e for e in extra if e.strip()]
    if extra_lines:
        more = pathspec.GitIgnoreSpec.from_lines(extra_lines)
        spec = more if spec is None else spec + more
    return RootIgnore(str(resolved), None, spec)


def is_virtualenv(path: str) -> bool:
    """A virtualenv has a ``pyvenv.cfg`` at its top, whatever the directory is called."""
    return os.path.exists(os.path.join(path, "pyvenv.cfg"))
