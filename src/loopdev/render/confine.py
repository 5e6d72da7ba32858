"""Files a render reads stay inside the chart or project they belong to, links included.

Why: a cloned repository is input loopdev did not write. ``templates/_pw.j2`` linked to
``/etc/passwd`` (or ``k8s/key.yaml`` to ``~/.ssh/id_rsa``) would otherwise be read and
applied to the cluster, or printed by ``loopdev render`` in CI. A path the user writes that
itself leaves the project (``manifests: [../shared/*.yaml]``) is their choice; what is
refused is a link that leaves the place the path names.
"""

from __future__ import annotations

import os
from pathlib import Path

from loopdev.errors import ConfigError


class OutsideError(ConfigError):
    """A file whose real path leaves the directory it is read from."""


def inside(path: Path, base: Path) -> bool:
    """Whether ``path``'s real path is ``base``'s real path or under it."""
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(base))


def confined(path: Path, base: Path, what: str, shown: str | None = None) -> Path:
    """``path`` if it stays inside ``base``, else an ``OutsideError`` naming the link."""
    if inside(path, base):
        return path
    target = os.path.realpath(path)
    raise OutsideError(
        f"{shown or path}: {what} resolves to {target}, outside {base}; "
        "loopdev does not read files through links that leave it",
        hint=f"copy the file into {base} instead of linking to it",
    )


def reference_base(root: Path, written: str) -> Path:
    """The directory a written path (or glob) may not leave: the project ``root``, or, when
    the path is written to lead outside it, the fixed directory it names there."""
    fixed = written.split("*")[0].split("?")[0].split("[")[0]
    normal_root = Path(os.path.normpath(root))
    lexical = Path(os.path.normpath(normal_root / fixed))
    if lexical.is_relative_to(normal_root):
        return normal_root
    return lexical if lexical.is_dir() else lexical.parent
