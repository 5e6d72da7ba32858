"""Who is listening on a local TCP port, best effort, from /proc (Linux).

Why: "port 8080 is in use" alone sends the user hunting; "in use by node (pid 4242)" does not.
Without /proc, or for another user's process, we say nothing rather than guess.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

_LISTEN = "0A"


def listening_inodes(table: str, port: int) -> set[str]:
    """Socket inodes in a /proc/net/tcp{,6} table that LISTEN on ``port`` (pure)."""
    inodes: set[str] = set()
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        _addr, _, hex_port = fields[1].rpartition(":")
        if fields[3] == _LISTEN and int(hex_port, 16) == port:
            inodes.add(fields[9])
    return inodes


def _read(path: str) -> str:
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return ""


def _pids() -> Iterable[str]:
    try:
        return [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return []


def port_holder(port: int) -> str | None:
    """'name (pid N)' of a process listening on ``port``, or None if that cannot be known."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        inodes |= listening_inodes(_read(table), port)
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for pid in _pids():
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") in wanted:
                    name = _read(f"/proc/{pid}/comm").strip() or "?"
                    return f"{name} (pid {pid})"
            except OSError:
                continue
    return None
