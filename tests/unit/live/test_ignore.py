"""Nested .gitignore/.loopignore files: git's per-directory semantics, the walk, reloads."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from loopdev.adapters.watch import RawBatch
from loopdev.config.model import Image
from loopdev.live import ignore
from loopdev.live.ignore import for_dir, for_image
from loopdev.live.roots import RootSet, plan_watch
from loopdev.live.watcher import SharedWatcher


def make_tree(root: Path, files: dict[str, str]) -> str:
    """Files (relative path -> text); returns the resolved root as a string."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(root.resolve())


def test_nested_file_excludes_only_under_its_own_directory(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            "Dockerfile": "FROM scratch\n",
            "services/api/.gitignore": "build/\n*.gen.py\n!\n",  # a lone "!" is skipped
            "services/api/.loopignore": "*.tmp\n",
            "services/api/.dockerignore": "*.txt\n",  # Docker reads the context's only
        },
    )
    for rules in (for_image(Image("web", tmp_path, tmp_path / "Dockerfile")), for_dir(tmp_path)):
        assert rules.ignored(f"{root}/services/api/build/out.bin")
        assert rules.ignored(f"{root}/services/api/pkg/build/out.bin")
        assert rules.ignored(f"{root}/services/api/pkg/m.gen.py")
        assert rules.ignored(f"{root}/services/api/x.tmp")
        assert rules.ignored(f"{root}/services/api/build", is_dir=True)
        assert not rules.ignored(f"{root}/services/api/main.py")
        assert not rules.ignored(f"{root}/services/api/notes.txt")
        assert not rules.ignored(f"{root}/services/web/build/out.bin")
        assert not rules.ignored(f"{root}/services/web/m.gen.py")
        assert not rules.ignored(f"{root}/m.gen.py")
        assert not rules.ignored(f"{root}/services/build", is_dir=True)


def test_deeper_file_reincludes_but_not_below_an_excluded_directory(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            ".gitignore": "*.log\nbuild/\ngen/\nout/\n!out/keep.txt\n",
            "services/api/.gitignore": "!keep.log\n!build/\n",
            "gen/.gitignore": "!x.py\n",  # inside an excluded directory: never read
        },
    )
    rules = for_dir(tmp_path)
    assert not rules.ignored(f"{root}/services/api/keep.log")
    assert not rules.ignored(f"{root}/services/api/sub/keep.log")
    assert rules.ignored(f"{root}/services/api/other.log")
    assert rules.ignored(f"{root}/keep.log")
    assert not rules.ignored(f"{root}/services/api/build/app.py")
    assert rules.ignored(f"{root}/services/web/build/app.py")
    assert rules.ignored(f"{root}/gen/x.py")
    assert rules.ignored(f"{root}/out/keep.txt")


def test_directory_only_reinclude_is_judged_on_the_directory_itself(tmp_path: Path) -> None:
    """pathspec given ``a/`` ranks ``*`` over ``!*/``; git re-includes the directory."""
    root = make_tree(tmp_path, {"services/api/.gitignore": "*\n!*/\n!*.py\n"})
    rules = for_dir(tmp_path)
    assert not rules.ignored(f"{root}/services/api/pkg", is_dir=True)
    assert not rules.ignored(f"{root}/services/api/pkg/deep/m.py")
    assert rules.ignored(f"{root}/services/api/pkg/deep/m.txt")
    assert not rules.prunes(f"{root}/services/api/pkg")


def test_only_direct_matches_decide_not_matches_through_a_parent(tmp_path: Path) -> None:
    """Cases random trees found: a directory pattern matching a parent of the path decides
    nothing for the path itself, in a deeper file or on a directory."""
    root = make_tree(
        tmp_path,
        {
            ".gitignore": "*.py\ntmp/**\nout*/\n!build/\n",
            "deep/.gitignore": "!sub/\n",
            "tmp/.gitignore": "!*.log\n",
        },
    )
    rules = for_dir(tmp_path)
    assert rules.ignored(f"{root}/deep/sub/build/x.py")  # "!sub/" is about deep/sub only
    assert not rules.ignored(f"{root}/tmp", is_dir=True)  # "tmp/**" is what is inside
    assert not rules.ignored(f"{root}/tmp/app.log")
    assert rules.ignored(f"{root}/a/build/out1", is_dir=True)  # "!build/" is about a/build
    assert rules.ignored(f"{root}/a/build/out1/app.log")


def test_anchored_patterns_are_relative_to_the_nested_directory(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"services/api/.gitignore": "/build\ndocs/*.md\n"})
    rules = for_dir(tmp_path)
    assert rules.ignored(f"{root}/services/api/build/out.bin")
    assert not rules.ignored(f"{root}/services/api/pkg/build/out.bin")
    assert not rules.ignored(f"{root}/build/out.bin")
    assert rules.ignored(f"{root}/services/api/docs/a.md")
    assert not rules.ignored(f"{root}/services/api/pkg/docs/a.md")
    assert not rules.ignored(f"{root}/docs/a.md")


def test_glob_characters_in_directory_names_are_literal(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"a[1]/.gitignore": "/build\n", "a1/build/x": "", "ab/c": ""})
    rules = for_dir(tmp_path)
    assert rules.ignored(f"{root}/a[1]/build/x")
    assert not rules.ignored(f"{root}/a1/build/x")


def test_root_scan_skips_trees_a_nested_file_excludes_and_reads_each_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_tree(
        tmp_path,
        {
            "Dockerfile": "FROM scratch\n",
            "services/api/.gitignore": "build/\n",
            "services/api/src/main.py": "",
            "services/api/build/deep/out.bin": "",
            "services/web/build/app.js": "",
        },
    )
    opened: list[str] = []
    read = ignore.read_lines

    def spy(path: str | Path) -> list[str]:
        opened.append(str(path))
        return read(path)

    monkeypatch.setattr(ignore, "read_lines", spy)
    roots = RootSet([for_image(Image("web", tmp_path, tmp_path / "Dockerfile"))])
    opened.clear()  # the root's own files are read up front
    flat = set(plan_watch(roots).flat)
    assert f"{root}/services/api/src" in flat
    assert f"{root}/services/web/build" in flat
    assert not {f"{root}/services/api/build", f"{root}/services/api/build/deep"} & flat
    assert opened == [f"{root}/services/api/.gitignore"]  # learnt from the walk's listings
    opened.clear()
    assert not roots.accepts(f"{root}/services/api/build/new.bin")
    assert roots.accepts(f"{root}/services/api/src/new.py")  # a leaf: read on first need,
    assert roots.accepts(f"{root}/services/api/src/other.py")  # once
    src = f"{root}/services/api/src"
    assert opened == [f"{src}/.gitignore", f"{src}/.loopignore"]


PATTERNS = (
    "build/", "/build", "*.gen.py", "!keep.gen.py", "gen", "!gen/", "*.log", "!important.log",
    "a/b", "/a", "**/tmp", "tmp/**", "!build/", "docs/*.md", "!docs/keep.md", "out*/", "x?y",
    "[ab].txt", "sub/", "!sub/", "**/deep/**", "a/**/z", "!x.py", "*.py", "/sub/x.py", "!a/",
    "deep", "b/", "!*.log", "*", "!*/", "!*.py", "**", "sub/*", "*/", "!/build/", "a/*/",
)  # fmt: skip
DIRS = ("a", "b", "build", "gen", "sub", "tmp", "docs", "deep", "out1", "a[1]")
FILES = ("x.py", "keep.gen.py", "y.gen.py", "app.log", "important.log", "keep.md", "a.txt", "z")


def random_tree(root: Path, rng: random.Random, depth: int = 0) -> None:
    for name in rng.sample(FILES, rng.randint(1, 4)):
        (root / name).write_text("x")
    if rng.random() < 0.5:
        (root / ".gitignore").write_text("\n".join(rng.sample(PATTERNS, rng.randint(1, 4))))
    for name in rng.sample(DIRS, rng.randint(0, 3)) if depth < 3 else ():
        (root / name).mkdir()
        random_tree(root / name, rng, depth + 1)


def test_agrees_with_git_on_random_trees(tmp_path: Path) -> None:
    """The files git lists as untracked-not-ignored are exactly those we keep, walk included."""
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    for seed in range(30):  # ~1.5 s; 1,000 trees agreed when this was written
        root = tmp_path / str(seed)
        subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
        random_tree(root, random.Random(seed))
        listed = subprocess.run(
            ["git", "ls-files", "-o", "--exclude-standard", "-z"],
            cwd=root, env=env, capture_output=True, check=True, text=True,
        ).stdout  # fmt: skip
        roots = RootSet([for_dir(root)])
        kept = {
            os.path.relpath(de.path, root)
            for d in plan_watch(roots).flat
            for de in os.scandir(d)
            if de.is_file() and roots.accepts(de.path)
        }
        assert kept == set(filter(None, listed.split("\0"))), f"seed {seed}"


class FakeWatch:
    """A ``WatchFn`` fed by hand: one queue per (re)started watch, with its plan and filter."""

    def __init__(self) -> None:
        self.started: list[tuple[list[str], Callable[[str], bool], asyncio.Queue[RawBatch]]] = []

    def __call__(
        self, recursive: list[str], flat: list[str], accept: Callable[[str], bool]
    ) -> AsyncIterator[RawBatch]:
        queue: asyncio.Queue[RawBatch] = asyncio.Queue()
        self.started.append((flat, accept, queue))

        async def events() -> AsyncIterator[RawBatch]:
            while True:
                yield await queue.get()

        return events()


async def test_a_changed_nested_ignore_file_replans_even_when_the_rules_exclude_it(
    tmp_path: Path,
) -> None:
    root = make_tree(
        tmp_path,
        {
            "Dockerfile": "FROM scratch\n",
            ".dockerignore": "**/.gitignore\n",  # the ignore file itself is not sent
            "services/api/build/out.bin": "",
        },
    )
    image = Image("web", tmp_path, tmp_path / "Dockerfile")
    fake = FakeWatch()
    watcher = SharedWatcher(lambda: RootSet([for_image(image)]), lambda _b: None, fake)
    task = asyncio.create_task(watcher.run())
    nested = f"{root}/services/api/.gitignore"
    build = f"{root}/services/api/build"

    async def send(batch: RawBatch, generation: int) -> list[str]:
        flat, accept, queue = fake.started[-1]
        assert accept(nested)
        queue.put_nowait(batch)
        while watcher.generation < generation or not watcher.ready.is_set():
            await asyncio.sleep(0.01)
        return fake.started[-1][0]

    try:
        await asyncio.wait_for(watcher.ready.wait(), 5)
        assert build in fake.started[-1][0]
        Path(nested).write_text("build/\n")
        flat = await asyncio.wait_for(send(RawBatch(added={nested}), 2), 5)
        assert build not in flat and f"{root}/services/api" in flat
        Path(nested).unlink()
        flat = await asyncio.wait_for(send(RawBatch(deleted={nested}), 3), 5)
        assert build in flat
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
