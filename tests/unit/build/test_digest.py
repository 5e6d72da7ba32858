"""Content digests: what changes the tag, what does not, and that the cache avoids rehashing."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from loopdev.build import cache as cache_mod
from loopdev.build.digest import compute_digests, planned_refs
from loopdev.errors import BuildError, UsageError
from tests.unit.build.conftest import make_loopfile, write


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    write(tmp_path / "base/Dockerfile", "FROM scratch\nCOPY . /\n")
    write(tmp_path / "base/lib.txt", "lib")
    write(tmp_path / "api/Dockerfile", "ARG B=base\nFROM ${B}\nCOPY . /app\n")
    write(tmp_path / "api/main.py", "print(1)\n")
    write(tmp_path / "api/notes.log", "x")
    write(tmp_path / "api/.dockerignore", "*.log\n")
    return tmp_path


def cfg(root: Path, **api: object):
    return make_loopfile(root, {"base": {}, "api": dict(api)})


def refs(root: Path, **api: object) -> dict[str, str]:
    return planned_refs(cfg(root, **api))


def test_ref_format_and_stability(project: Path) -> None:
    first = refs(project)
    assert set(first) == {"base", "api"}
    assert re.fullmatch(r"api:loopdev-[0-9a-f]{16}", first["api"])
    assert refs(project) == first


def test_ignored_file_changes_nothing_context_file_changes_tag(project: Path) -> None:
    before = refs(project)
    write(project / "api/notes.log", "changed")
    assert refs(project) == before
    write(project / "api/main.py", "print(2)\n")
    after = refs(project)
    assert after["api"] != before["api"] and after["base"] == before["base"]


def test_extra_ignore_patterns_apply(project: Path) -> None:
    before = refs(project, ignore=["main.py"])
    write(project / "api/main.py", "print(3)\n")
    assert refs(project, ignore=["main.py"]) == before


def test_mode_args_target_dockerfile_and_new_files_change_tag(project: Path) -> None:
    seen = {refs(project)["api"]}
    os.chmod(project / "api/main.py", 0o755)
    seen.add(refs(project)["api"])
    seen.add(refs(project, build_args={"X": "1"})["api"])
    seen.add(refs(project, target="dev")["api"])
    write(project / "api/new.py", "")
    seen.add(refs(project)["api"])
    (project / "api/emptydir").mkdir()
    seen.add(refs(project)["api"])
    write(project / "api/Dockerfile", "ARG B=base\nFROM ${B}\nCOPY . /srv\n")
    seen.add(refs(project)["api"])
    assert len(seen) == 7


def test_base_image_change_propagates_to_dependents(project: Path) -> None:
    before = refs(project)
    write(project / "base/lib.txt", "lib2")
    after = refs(project)
    assert after["base"] != before["base"] and after["api"] != before["api"]
    # a build arg that points FROM elsewhere drops the dependency
    other = compute_digests(cfg(project, build_args={"B": "busybox"}))
    assert other["api"].inputs.bases == ()


def test_selected_names_pull_in_their_bases(project: Path) -> None:
    assert set(compute_digests(cfg(project), ["api"])) == {"api", "base"}
    with pytest.raises(UsageError, match="no image named nope"):
        compute_digests(cfg(project), ["nope"])


def test_warm_run_hashes_nothing(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = 1_600_000_000_000_000_000
    for p in [*(project / "api").iterdir(), *(project / "base").iterdir()]:
        os.utime(p, ns=(old, old))
    refs(project)
    calls: list[str] = []
    real = cache_mod.hash_file
    monkeypatch.setattr(cache_mod, "hash_file", lambda p: calls.append(p) or real(p))
    refs(project)
    assert calls == []
    write(project / "api/main.py", "print(9)\n")
    refs(project)
    assert calls == [str(project / "api/main.py")]


def test_cache_lives_outside_the_source_tree(project: Path, private_cache: Path) -> None:
    old = 1_600_000_000_000_000_000
    os.utime(project / "api/main.py", ns=(old, old))
    refs(project)
    assert list((private_cache / "digests").glob("*.pickle"))
    assert not [p for p in project.rglob("*") if "pickle" in p.name or "cache" in p.name]


def test_clear_errors_for_bad_paths(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with pytest.raises(BuildError, match="Dockerfile .* not found"):
        refs(project, dockerfile="Nope")
    outside = tmp_path_factory.mktemp("outside")
    config = cfg(project)
    bad = dataclasses.replace(config.images["api"], context=outside)
    with pytest.raises(BuildError, match="outside the repository"):
        planned_refs(dataclasses.replace(config, images={**config.images, "api": bad}))


def test_cache_directory_is_bounded(tmp_path: Path) -> None:
    from loopdev.build.cache import trim

    for i in range(10):
        p = tmp_path / f"{i}.pickle"
        p.write_text("x")
        os.utime(p, ns=(i * 10**9, i * 10**9))
    trim(tmp_path, keep=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["7.pickle", "8.pickle", "9.pickle"]
