"""Options every command shares, passed down from the ``loopdev`` group."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click


@dataclass
class GlobalOptions:
    """``-f``, ``-p``, ``--context``, ``--namespace``, ``--debug``."""

    file: Path | None = None
    profiles: tuple[str, ...] = ()
    context: str | None = None
    namespace: str | None = None
    debug: bool = False
    extra: dict[str, object] = field(default_factory=dict)
    default_repo: str | None = None  # --default-repo / LOOPDEV_DEFAULT_REPO


pass_options = click.make_pass_decorator(GlobalOptions, ensure=True)
