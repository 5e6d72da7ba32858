"""Plain manifests: globs of multi-document YAML files, read in a stable order."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loopdev.errors import ConfigError
from loopdev.render.confine import confined, reference_base
from loopdev.render.documents import parse_documents

YAML_SUFFIXES = (".yaml", ".yml", ".json")


def manifest_files(root: Path, patterns: Sequence[str]) -> list[Path]:
    """Files matched by ``patterns`` (relative to ``root``): each glob's matches sorted, globs in
    order, duplicates dropped. A pattern matching nothing is an error (a typo, most likely)."""
    files: list[Path] = []
    seen: set[Path] = set()
    for pattern in patterns:
        matches = _expand(root, pattern)
        if not matches:
            raise ConfigError(
                f"{root / 'loopfile.yaml'}: deploy.manifests: {pattern!r} matches no file",
                hint="globs are relative to the loopfile's directory; `**` matches subdirectories",
            )
        for path in matches:
            if path not in seen:
                seen.add(path)
                files.append(path)
    return files


def _expand(root: Path, pattern: str) -> list[Path]:
    target = root / pattern
    if target.is_dir():
        hits = [p for p in target.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file()]
    else:
        hits = [Path(p) for p in glob.glob(str(target), recursive=True) if Path(p).is_file()]
    return sorted(hits, key=lambda p: p.as_posix())


def render_manifests(root: Path, patterns: Sequence[str]) -> list[dict[str, Any]]:
    """Every object in the matched files, file by file, document by document; a file linked
    outside the directory its glob names (the project, usually) is refused."""
    objects: list[dict[str, Any]] = []
    seen: set[Path] = set()
    for pattern in patterns:
        base = reference_base(root, pattern)
        for path in manifest_files(root, [pattern]):
            if path not in seen:
                seen.add(path)
                objects.extend(_read(path, root, base))
    return objects


def _read(path: Path, root: Path, base: Path) -> list[dict[str, Any]]:
    confined(path, base, "the manifest", _display(path, root))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read manifest: {err.strerror}") from None
    return parse_documents(text, _display(path, root), plain_file=True)


def _display(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
