from __future__ import annotations

from pathlib import Path

from loopdev.local.deps import matching

WORK = Path("/repo/web")


def test_directory_glob_and_extension_patterns() -> None:
    paths = ["/repo/web/src/a/b.ts", "/repo/web/README.md", "/repo/web/lib/x.py", "/repo/api/y.py"]
    assert matching(paths, ("src", "*.py"), WORK) == ["/repo/web/src/a/b.ts", "/repo/web/lib/x.py"]


def test_no_deps_never_match() -> None:
    assert matching(["/repo/web/a"], (), WORK) == []


def test_paths_outside_workdir_are_ignored() -> None:
    assert matching(["/elsewhere/src/a.ts"], ("src",), WORK) == []
