"""Compiled chart templates, cached in memory and on disk.

Compiling a template costs about a millisecond per dozen lines; a chart of fifty templates
would spend most of its render compiling. In memory we keep code objects by template and
source checksum (no marshalling on each ``loopdev up`` re-render); on disk, Jinja's own
``FileSystemBytecodeCache`` under the user cache directory makes a fresh ``loopdev render``
process fast too. The disk cache is keyed by loopdev's version, and Jinja checks the
Python magic and the source checksum itself; an unwritable cache directory just disables it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import CodeType

from jinja2 import BytecodeCache, FileSystemBytecodeCache
from jinja2.bccache import Bucket

from loopdev import __version__
from loopdev.cachedir import cache_root


def _disk_dir() -> Path:
    return cache_root() / f"jinja-{__version__}"


class CodeCache(BytecodeCache):
    """Memory (code objects) in front of an optional disk cache (marshalled bytecode)."""

    def __init__(self, disk_dir: Path | None = None, limit: int = 4096) -> None:
        self._memory: dict[str, tuple[str, CodeType]] = {}
        self._limit = limit
        self._lock = threading.Lock()
        self._disk: FileSystemBytecodeCache | None = None
        if disk_dir is not None:
            try:
                disk_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                self._disk = FileSystemBytecodeCache(str(disk_dir))
            except OSError:
                self._disk = None

    def load_bytecode(self, bucket: Bucket) -> None:
        hit = self._memory.get(bucket.key)
        if hit is not None and hit[0] == bucket.checksum:
            bucket.code = hit[1]
            return
        if self._disk is not None:
            try:
                self._disk.load_bytecode(bucket)
            except (OSError, ValueError, EOFError):
                bucket.reset()
            if bucket.code is not None:
                self._remember(bucket)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._remember(bucket)
        if self._disk is not None:
            try:
                self._disk.dump_bytecode(bucket)
            except OSError:
                self._disk = None

    def _remember(self, bucket: Bucket) -> None:
        if bucket.code is None:
            return
        with self._lock:
            if len(self._memory) >= self._limit:
                self._memory.clear()
            self._memory[bucket.key] = (bucket.checksum, bucket.code)


_shared: CodeCache | None = None


def shared_cache() -> CodeCache:
    """The process-wide cache (created on first use, so importing never touches the disk)."""
    global _shared
    if _shared is None:
        _shared = CodeCache(None if os.environ.get("LOOPDEV_NO_JINJA_CACHE") else _disk_dir())
    return _shared
