"""Loopfile format versions: older files are upgraded by small chained functions over dicts.

Why a chain: each future format change adds one ``vN -> vN+1`` function here, and a file of
any older version walks the chain, so the rest of the loader only ever sees the newest shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

CURRENT = "v1"
Upgrade = Callable[[dict[str, Any]], dict[str, Any]]
# version -> (next version, function turning a document of that version into the next one)
UPGRADES: Mapping[str, tuple[str, Upgrade]] = {}
_VERSION = re.compile(r"^v(\d+)$")


def is_newer(version: str, current: str = CURRENT) -> bool:
    """Whether ``version`` (``vN``) is a later format than this loopdev understands."""
    found, known = _VERSION.match(version), _VERSION.match(current)
    return bool(found and known and int(found.group(1)) > int(known.group(1)))


def upgrade(
    data: dict[str, Any], upgrades: Mapping[str, tuple[str, Upgrade]] = UPGRADES
) -> dict[str, Any]:
    """Walk ``data`` up the chain to the current version; unknown versions are left as they are."""
    seen: set[str] = set()
    while isinstance(data.get("version"), str) and data["version"] in upgrades:
        version = data["version"]
        if version in seen:
            raise ValueError(f"upgrade chain loops at {version}")
        seen.add(version)
        target, step = upgrades[version]
        data = {**step(dict(data)), "version": target}
    return data
