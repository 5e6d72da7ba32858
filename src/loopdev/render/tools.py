"""Running the external renderers (kubectl kustomize, helm template) as subprocesses.

These block; ``loopdev up`` calls the renderer through ``asyncio.to_thread``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

from loopdev.errors import TemplateError, UsageError

TIMEOUT_S = 120.0


def find_tool(names: Sequence[str], purpose: str, install: str) -> str:
    """The first of ``names`` on PATH, or a UsageError saying what to install."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    wanted = " or ".join(names)
    raise UsageError(f"{purpose} needs {wanted} on PATH, and none was found", hint=install)


def run_tool(argv: Sequence[str], what: str, hint: str | None = None) -> str:
    """stdout of ``argv``; a failure becomes a TemplateError carrying the tool's stderr."""
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise TemplateError(f"{what} took longer than {TIMEOUT_S:.0f} s and was stopped") from None
    except OSError as err:
        raise TemplateError(f"{what}: cannot run {argv[0]}: {err.strerror}") from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip() or f"exit code {proc.returncode}"
        raise TemplateError(f"{what} failed:\n{_indent(detail)}", hint=hint)
    return proc.stdout


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines()[-30:])
