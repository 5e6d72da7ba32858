"""Where loopdev keeps caches: the user cache directory, or ``LOOPDEV_CACHE_DIR`` (tests, benches).

Caches never live in the user's source tree; losing one only costs time.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cache_root() -> Path:
    """The root of every loopdev cache (digests, compiled templates, the compiled schema)."""
    env = os.environ.get("LOOPDEV_CACHE_DIR")
    return Path(env) if env else Path(platformdirs.user_cache_dir("loopdev"))
