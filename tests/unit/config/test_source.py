"""YAML parsing with marks: positions of values and keys, duplicates, scalars kept as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopdev.config.locate import find_loopfile
from loopdev.config.problems import Mark, Problems, format_path
from loopdev.config.source import parse_yaml
from loopdev.errors import UsageError


def test_marks_of_values_and_keys() -> None:
    problems = Problems("f.yaml")
    doc = parse_yaml("a:\n  b: [1, {c: x}]\n", problems)
    assert doc is not None and not problems
    assert doc.data == {"a": {"b": [1, {"c": "x"}]}}
    assert doc.marks.value_at(("a", "b", 1, "c")) == Mark(2, 14)
    assert doc.marks.key_at(("a", "b")) == Mark(2, 3)
    assert doc.marks.value_at(("a", "b", 1, "missing", 3)) == Mark(2, 10)


def test_scalars_typed_like_yaml_but_dates_stay_text() -> None:
    doc = parse_yaml("a: 1\nb: 1.5\nc: true\nd: ~\ne: 2024-01-02\nf: '1'\n", Problems("f"))
    assert doc is not None
    assert doc.data == {"a": 1, "b": 1.5, "c": True, "d": None, "e": "2024-01-02", "f": "1"}


def test_duplicate_keys_reported_at_second_occurrence() -> None:
    problems = Problems("f.yaml")
    parse_yaml("a: 1\nb: 2\na: 3\n", problems)
    (problem,) = problems.items
    assert (problem.line, problem.col, problem.path) == (3, 1, "a")
    assert "first at line 1" in problem.message


def test_format_path_quotes_keys_with_dots() -> None:
    assert format_path(("images", "a.io/x", "live", "sync", 0)) == 'images["a.io/x"].live.sync[0]'


def test_find_loopfile_walks_up_and_names_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "proj"
    deep = project / "a" / "b"
    deep.mkdir(parents=True)
    (project / "loopfile.yaml").write_text("version: v1\n")
    expected = project.resolve() / "loopfile.yaml"
    assert find_loopfile(None, deep) == expected
    assert find_loopfile(project / "loopfile.yaml") == expected
    monkeypatch.chdir(deep)
    assert find_loopfile(None) == expected
    assert find_loopfile(Path("../../loopfile.yaml")) == expected
    with pytest.raises(UsageError) as err:
        find_loopfile(Path("nope.yaml"), project)
    assert "does not exist" in err.value.message and err.value.exit_code == 2
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(UsageError) as err:
        find_loopfile(None, elsewhere)
    assert f"no loopfile.yaml in {elsewhere.resolve()}" in err.value.message
