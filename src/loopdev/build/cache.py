"""Per-context file-hash cache: (path, size, mtime_ns) -> content hash.

One pickle per context directory under ``platformdirs.user_cache_dir("loopdev")``, never in
the source tree. A hit costs one dict lookup; misses are hashed in worker threads (hashlib
releases the GIL on large buffers). Files modified within the last second are hashed but
not cached: a second write in the same timestamp tick would otherwise go unseen.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from loopdev.build.context import DirCache, Entry, Listing
from loopdev.cachedir import cache_root

_FORMAT = 2
_RACY_NS = 1_000_000_000
_CHUNK = 1 << 20
_WORKERS = 4
_KEEP_FILES = 64  # contexts (x ignore sets) remembered

Key = tuple[int, int]  # size, mtime_ns
Table = dict[str, tuple[int, int, str]]


def hash_file(path: str) -> str:
    """sha256 of a file's content (hex): small files in one read, big ones streamed."""
    fd = os.open(path, os.O_RDONLY)
    try:
        h = hashlib.sha256()
        while chunk := os.read(fd, _CHUNK):
            h.update(chunk)
        return h.hexdigest()
    finally:
        os.close(fd)


def _hash_batch(paths: list[str]) -> list[str]:
    return [hash_file(p) for p in paths]


_OPEN: dict[Path, HashCache] = {}
_OPEN_LOCK = threading.Lock()


def open_cache(context: Path, variant: str = "", root: Path | None = None) -> HashCache:
    """The process-wide cache object for a context (loaded from disk once per process)."""
    file = cache_file(context.resolve(), variant, root)
    with _OPEN_LOCK:
        cache = _OPEN.get(file)
        if cache is None:
            cache = _OPEN[file] = HashCache(context, variant, root)
        return cache


def cache_file(context: Path, variant: str, root: Path | None) -> Path:
    name = hashlib.sha256(f"{context}\0{variant}".encode()).hexdigest()[:24]
    return (root or cache_root()) / "digests" / f"{name}.pickle"


class HashCache:
    """The cache for one context directory and ignore set: file hashes and directory listings.

    ``lock`` serializes users (digests run in worker threads, maybe two at once).
    """

    def __init__(self, context: Path, variant: str = "", root: Path | None = None) -> None:
        self.context = context.resolve()
        self.file = cache_file(self.context, variant, root)
        self.lock = threading.Lock()
        self.table: Table = {}
        self.dirs: DirCache = {}
        self._load()
        self.dirty = False

    def _load(self) -> None:
        try:
            with open(self.file, "rb") as fh:
                fmt, context, table, dirs = pickle.load(fh)
        except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError):
            return
        if fmt == _FORMAT and context == str(self.context):
            self.table, self.dirs = table, dirs

    def listing(self) -> Listing:
        """A listing that reuses the directory decisions of the last run."""
        return Listing(self.dirs)

    def keep_listing(self, listing: Listing) -> None:
        if listing.new != self.dirs:
            self.dirs = listing.new
            self.dirty = True

    def hashes(self, files: Iterable[Entry]) -> dict[str, str]:
        """Content hash per regular file; cached ones are looked up, the rest hashed in threads."""
        out: dict[str, str] = {}
        todo: list[Entry] = []
        table = self.table
        for e in files:
            hit = table.get(e.path)
            if hit is not None and hit[0] == e.size and hit[1] == e.mtime_ns:
                out[e.path] = hit[2]
            else:
                todo.append(e)
        if todo:
            self._hash_missing(todo, out)
        return out

    def _hash_missing(self, todo: list[Entry], out: dict[str, str]) -> None:
        base = str(self.context)
        paths = [os.path.join(base, e.path) for e in todo]
        if len(todo) < 16:
            digests = _hash_batch(paths)
        else:  # a few large batches: one future per file costs more than hashing a small file
            n = min(_WORKERS, len(paths) // 8)
            batches = [paths[i::n] for i in range(n)]
            with ThreadPoolExecutor(max_workers=n) as pool:
                done = list(pool.map(_hash_batch, batches))
            digests = [""] * len(paths)
            for i, result in enumerate(done):
                digests[i::n] = result
        fresh = time.time_ns() - _RACY_NS
        for e, digest in zip(todo, digests, strict=True):
            out[e.path] = digest
            if e.mtime_ns < fresh:
                self.table[e.path] = (e.size, e.mtime_ns, digest)
                self.dirty = True

    def prune(self, keep: set[str]) -> None:
        """Forget files that are no longer in the context."""
        gone = [p for p in self.table if p not in keep]
        for p in gone:
            del self.table[p]
        self.dirty = self.dirty or bool(gone)

    def save(self) -> None:
        """Write atomically (a crash never leaves a torn cache); best effort."""
        if not self.dirty:
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.file.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump((_FORMAT, str(self.context), self.table, self.dirs), fh, protocol=5)
            os.replace(tmp, self.file)
            self.dirty = False
            trim(self.file.parent)
        except OSError:
            pass


def trim(directory: Path, keep: int = _KEEP_FILES) -> None:
    """Bound the cache: drop the least recently written caches beyond ``keep`` (and strays)."""
    with os.scandir(directory) as it:
        files = [(e.stat().st_mtime_ns, e.path) for e in it if e.is_file()]
    files.sort(reverse=True)
    for _, path in files[keep:]:
        with contextlib.suppress(OSError):
            os.unlink(path)
