"""Context listing: Docker's .dockerignore rules, and agreement with the Docker SDK's tar."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from docker.utils.build import exclude_paths

from loopdev.build.context import (
    Listing,
    context_matcher,
    context_patterns,
    dockerfile_in_context,
    list_context,
    parse_ignore_text,
)

TREE = [
    "Dockerfile",
    "app.py",
    "README.md",
    "docs/a.md",
    "docs/keep.md",
    "src/main.go",
    "src/lib/util.go",
    "src/lib/util_test.go",
    "src/lib/deep/x.go",
    "build/out.bin",
    "build/keep/me.txt",
    "node_modules/pkg/index.js",
    "sub/node_modules/pkg/index.js",
    "tmp/a.log",
    "a.log",
    "nested/dir/b.log",
    ".git/HEAD",
    "secret.env",
]


def make_tree(root: Path, ignore: str | None) -> None:
    for rel in TREE:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(rel)
    if ignore is not None:
        (root / ".dockerignore").write_text(ignore)


def files(entries: list) -> set[str]:
    return {e.path for e in entries if e.kind == "f"}


CASES = {
    "none": (None, set(TREE)),
    "star_star_log": ("**/*.log\n", set(TREE) - {"tmp/a.log", "a.log", "nested/dir/b.log"}),
    "root_only": ("*.log\n", set(TREE) - {"a.log"}),
    "leading_slash": ("/docs\n", set(TREE) - {"docs/a.md", "docs/keep.md"}),
    "exception": (
        "docs\n!docs/keep.md\n",
        set(TREE) - {"docs/a.md"},
    ),
    "exception_then_reexclude": (
        "*.md\n!README.md\nREADME*\n",
        set(TREE) - {"README.md"},
    ),
    "dir_with_exception_deep": (
        "build\n!build/keep/me.txt\n",
        set(TREE) - {"build/out.bin"},
    ),
    "double_star_dirs": (
        "**/node_modules\n",
        set(TREE) - {"node_modules/pkg/index.js", "sub/node_modules/pkg/index.js"},
    ),
    "middle_double_star": ("src/**/*_test.go\n", set(TREE) - {"src/lib/util_test.go"}),
    "comments_blank_dotdot": (
        "# comment\n\n  .git  \nfoo/../secret.env\n",
        set(TREE) - {".git/HEAD", "secret.env"},
    ),
    "dockerfile_and_ignore_always_sent": (
        "*\n!src\n",
        {
            "Dockerfile",
            "src/main.go",
            "src/lib/util.go",
            "src/lib/util_test.go",
            "src/lib/deep/x.go",
            ".dockerignore",
        },
    ),
    "question_and_class": ("?.log\n[ab]pp.py\n", set(TREE) - {"a.log", "app.py"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_dockerignore_rules(tmp_path: Path, name: str) -> None:
    ignore, expected = CASES[name]
    make_tree(tmp_path, ignore)
    if ignore is not None:
        expected = expected | {".dockerignore"}
    got = files(list_context(tmp_path, context_patterns(tmp_path), "Dockerfile"))
    assert got == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_entries_as_sdk_walk(tmp_path: Path, name: str) -> None:
    """Our scandir walk makes the SDK walk's decisions (files, dirs, symlinks)."""
    ignore, _ = CASES[name]
    make_tree(tmp_path, ignore)
    os.symlink("app.py", tmp_path / "link.py")
    os.symlink("src", tmp_path / "srclink")
    patterns = context_patterns(tmp_path)
    ours = {e.path for e in list_context(tmp_path, patterns, "Dockerfile")}
    assert ours == exclude_paths(str(tmp_path), list(patterns), dockerfile="Dockerfile")


def test_matching_is_case_sensitive_like_docker(tmp_path: Path) -> None:
    """docker-py lower-cases both sides; Docker on Linux does not, and neither do we."""
    make_tree(tmp_path, "readme.md\nDOCS\n")
    got = files(list_context(tmp_path, context_patterns(tmp_path), "Dockerfile"))
    assert {"README.md", "docs/a.md"} <= got
    sdk = exclude_paths(str(tmp_path), context_patterns(tmp_path), dockerfile="Dockerfile")
    assert "README.md" not in sdk  # the SDK's difference, kept visible here


def test_extra_ignores_add_to_dockerignore(tmp_path: Path) -> None:
    make_tree(tmp_path, "*.log\n")
    patterns = context_patterns(tmp_path, ("docs", "# not a pattern"))
    assert patterns == ["*.log", "docs"]
    got = files(list_context(tmp_path, patterns, "Dockerfile"))
    assert "docs/a.md" not in got and "a.log" not in got and "app.py" in got


def test_ignored_dockerfile_still_sent_but_other_name_is_not(tmp_path: Path) -> None:
    make_tree(tmp_path, "Dockerfile\nDockerfile.dev\n")
    (tmp_path / "Dockerfile.dev").write_text("FROM scratch\n")
    got = files(list_context(tmp_path, context_patterns(tmp_path), "Dockerfile.dev"))
    assert "Dockerfile.dev" in got and "Dockerfile" not in got


def test_entries_carry_mode_and_links(tmp_path: Path) -> None:
    (tmp_path / "run.sh").write_text("echo\n")
    os.chmod(tmp_path / "run.sh", 0o755)
    os.symlink("run.sh", tmp_path / "alias")
    by_path = {e.path: e for e in list_context(tmp_path, [], None)}
    assert by_path["run.sh"].mode == 0o755 and by_path["run.sh"].kind == "f"
    assert by_path["alias"].kind == "l" and by_path["alias"].link == "run.sh"


def test_parse_ignore_text_and_dockerfile_location(tmp_path: Path) -> None:
    assert parse_ignore_text(" a \n#b\n\n!c\n") == ["a", "!c"]
    assert dockerfile_in_context(tmp_path, tmp_path / "sub" / "Dockerfile") == "sub/Dockerfile"
    assert dockerfile_in_context(tmp_path / "ctx", tmp_path / "Dockerfile") is None


def age_tree(root: Path) -> None:
    old = 1_600_000_000_000_000_000
    for p in [*root.rglob("*"), root]:
        os.utime(p, ns=(old, old), follow_symlinks=False)


def test_listing_cache_skips_unchanged_dirs_and_sees_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loopdev.build import context as ctx_mod

    make_tree(tmp_path, "**/*.log\nbuild\n!build/keep/me.txt\n")
    age_tree(tmp_path)
    patterns = context_patterns(tmp_path)
    first = Listing()
    baseline = list_context(tmp_path, patterns, "Dockerfile", first)
    scans: list[str] = []
    real = ctx_mod._scan
    monkeypatch.setattr(ctx_mod, "_scan", lambda r, d, *a: scans.append(d) or real(r, d, *a))

    again = Listing(first.new)
    assert list_context(tmp_path, patterns, "Dockerfile", again) == baseline
    assert scans == []  # every directory's decisions came from the cache

    (tmp_path / "src/lib/new.go").write_text("x")  # new file: src/lib's mtime moves
    (tmp_path / "docs/a.md").write_text("changed content")  # same dir listing, new size/mtime
    (tmp_path / "tmp/a.log").unlink()
    third = list_context(tmp_path, patterns, "Dockerfile", Listing(again.new))
    assert sorted(scans) == ["src/lib", "tmp"]
    by_path = {e.path: e for e in third}
    assert "src/lib/new.go" in by_path and by_path["docs/a.md"].size == len("changed content")
    assert third == list_context(tmp_path, patterns, "Dockerfile")  # same as a cold listing


def test_recently_changed_dirs_are_not_cached(tmp_path: Path) -> None:
    make_tree(tmp_path, None)  # just written: every directory is "fresh"
    listing = Listing()
    list_context(tmp_path, [], "Dockerfile", listing)
    assert listing.new == {}


def test_single_path_matcher_agrees_with_listing(tmp_path: Path) -> None:
    make_tree(tmp_path, CASES["exception"][0] + "**/*.log\n!keep.log\n")
    patterns = context_patterns(tmp_path)
    listed = files(list_context(tmp_path, patterns, "Dockerfile"))
    m = context_matcher(patterns, "Dockerfile")
    assert {p for p in TREE if not m.excluded(p)} | {".dockerignore"} == listed
    assert not m.excluded("keep.log") and m.excluded("x/y.log")


def test_single_path_matcher_applies_the_directory_skip(tmp_path: Path) -> None:
    """``build`` + ``!**/keep.txt``: the walk never enters build/, so build/keep.txt is out."""
    make_tree(tmp_path, "build\n!**/me.txt\n")
    patterns = context_patterns(tmp_path)
    listed = files(list_context(tmp_path, patterns, "Dockerfile"))
    m = context_matcher(patterns, "Dockerfile")
    assert "build/keep/me.txt" not in listed and m.excluded("build/keep/me.txt")
    assert {p for p in TREE if not m.excluded(p)} | {".dockerignore"} == listed
