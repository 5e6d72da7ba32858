"""What a loopdev command imports, from the real process: ``python -X importtime``.

Why a child process: the test process has long imported everything. Why importtime and not
a timer: which modules a command loads is stable; how long they take on a shared machine is not.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$")


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str  # without the importtime lines
    modules: frozenset[str]

    def loaded(self, *packages: str) -> list[str]:
        """The modules of ``packages`` (a package or any module under it) that were loaded."""
        return sorted(m for m in self.modules for p in packages if m == p or m.startswith(p + "."))


def run_loopdev(
    args: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Run:
    """``python -X importtime -m loopdev ARGS``; its modules and its own output."""
    full = {**os.environ, "NO_COLOR": "1", **(env or {})}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "loopdev", *args],
        env=full,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )
    modules, rest = set(), []
    for line in done.stderr.splitlines():
        found = _LINE.match(line)
        if found:
            modules.add(found.group(1))
        elif not line.startswith("import time:"):
            rest.append(line)
    return Run(done.returncode, done.stdout, "\n".join(rest), frozenset(modules))
