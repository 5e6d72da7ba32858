"""What earlier sessions knew was secret, kept as keyed fingerprints in the user cache.

Why: a pod can keep running a Secret value loopdev applied two sessions ago (env from a
Secret is read when the container starts); neither the render nor the cluster has that value
any more, yet the pod prints it. The cache file (mode 0600, one per context, namespace and
project) holds a random key, ``blake2b(value, key)`` of each value in each printed form, and
the values' lengths: enough to recognise a value in a log line, never the value itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from loopdev.redact import Redactor, fingerprint

MAX_PRINTS = 5000  # newest kept; a project rarely has more secret forms than this


def memory_path(context: str, namespace: str, project: str, root: Path | None = None) -> Path:
    digest = hashlib.sha256(f"{context}\0{namespace}\0{project}".encode()).hexdigest()[:16]
    base = root or Path(platformdirs.user_cache_dir("loopdev"))
    return base / "secrets" / f"{digest}.json"


@dataclass
class SecretMemory:
    path: Path
    key: bytes
    prints: list[str] = field(default_factory=list)  # oldest first
    lengths: set[int] = field(default_factory=set)

    @classmethod
    def open(cls, path: Path) -> SecretMemory:
        """The remembered fingerprints (a fresh, empty memory if the file is missing or bad)."""
        try:
            data = json.loads(path.read_text())
            key = bytes.fromhex(str(data["key"]))
            prints = [str(p) for p in data.get("prints") or ()]
            lengths = {int(n) for n in data.get("lengths") or ()}
            return cls(path, key, prints, lengths)
        except (OSError, ValueError, KeyError, TypeError):
            return cls(path, secrets.token_bytes(32))

    def apply(self, redactor: Redactor) -> None:
        redactor.remember(self.key, set(self.prints), self.lengths)

    def learn(self, values: frozenset[str]) -> bool:
        """Add these values' fingerprints; True when something new was learnt."""
        known = set(self.prints)
        new = sorted({fingerprint(self.key, v) for v in values} - known)
        lengths = self.lengths | {len(v) for v in values}
        if not new and lengths == self.lengths:
            return False
        self.prints = (self.prints + new)[-MAX_PRINTS:]
        self.lengths = lengths
        return True

    def save(self) -> None:
        """Write atomically, readable by this user only."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        body = {"key": self.key.hex(), "prints": self.prints, "lengths": sorted(self.lengths)}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".secrets-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(body, fh)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
