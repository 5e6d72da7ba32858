"""Finding the loopfile: an explicit -f path, or loopfile.yaml here or in a parent directory."""

from __future__ import annotations

from pathlib import Path

from loopdev.errors import UsageError

FILENAME = "loopfile.yaml"


def find_loopfile(explicit: Path | None, start: Path | None = None) -> Path:
    """The absolute path of the loopfile to use; UsageError naming where it looked."""
    if explicit is not None:
        path = explicit if explicit.is_absolute() else (start or Path.cwd()) / explicit
        if not path.is_file():
            state = "is a directory" if path.is_dir() else "does not exist"
            raise UsageError(f"loopfile {path} {state}", hint="pass an existing file with -f")
        return path.resolve()
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / FILENAME
        if candidate.is_file():
            return candidate
    raise UsageError(
        f"no {FILENAME} in {here} or any parent directory",
        hint="run 'loopdev init' to write one, or pass -f PATH",
    )
