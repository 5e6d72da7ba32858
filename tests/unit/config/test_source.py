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


def test_merge_keys_fill_in_and_own_keys_override_without_a_duplicate_error() -> None:
    problems = Problems("f.yaml")
    text = "base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  a: 3\n"
    doc = parse_yaml(text, problems)
    assert doc is not None and not problems.items
    assert doc.data["x"] == {"a": 3, "b": 2}
    assert doc.marks.key_at(("x", "a")) == Mark(4, 3)  # own key
    assert doc.marks.value_at(("x", "b")) == Mark(1, 20)  # merged: where it is written


def test_merge_list_earlier_sources_win() -> None:
    text = "p: &p {a: 1}\nq: &q {a: 2, b: 2}\nx:\n  <<: [*p, *q]\n"
    doc = parse_yaml(text, Problems("f.yaml"))
    assert doc is not None and doc.data["x"] == {"a": 1, "b": 2}


def test_merge_of_a_scalar_is_a_problem_at_the_merge_key() -> None:
    problems = Problems("f.yaml")
    doc = parse_yaml("s: &s text\nx:\n  <<: *s\n  a: 1\n", problems)
    assert doc is not None and doc.data["x"] == {"a": 1}
    (problem,) = problems.items
    assert (problem.line, problem.col, problem.path) == (3, 3, "x")


def test_alias_inside_its_own_anchor_is_a_problem_not_a_crash() -> None:
    for text, where in [
        ("a: &x\n  b: *x\n", (2, 3, "a.b")),
        ("a: &x [1, *x]\n", (1, 4, "a[1]")),
        ("a: &x [[*x]]\n", (1, 8, "a[0][0]")),  # the inner list holds the alias
    ]:
        problems = Problems("f.yaml")
        assert parse_yaml(text, problems) is not None
        (problem,) = problems.items
        assert (problem.line, problem.col, problem.path) == where, text
        assert "contains itself" in problem.message


def test_a_mapping_merged_into_itself_is_a_problem_and_its_marks_still_resolve() -> None:
    problems = Problems("f.yaml")
    doc = parse_yaml("a: &x\n  b: 1\n  <<: *x\n", problems)
    assert doc is not None and doc.data == {"a": {"b": 1}}
    (problem,) = problems.items
    assert (problem.line, problem.col, problem.path) == (3, 3, "a")
    assert "merges a mapping into itself" in problem.message
    assert doc.marks.key_at(("a", "missing")) == Mark(1, 4)  # no endless walk through <<


def test_problems_found_late_still_report_every_earlier_one() -> None:
    """The fast pass stops at the first problem; the located pass must report all of them."""
    problems = Problems("f.yaml")
    parse_yaml("a: 1\na: 2\nb:\n  c: 1\n  c: 2\n", problems)
    assert [(p.line, p.path) for p in problems.items] == [(2, "a"), (5, "b.c")]


def test_marks_of_a_deeply_nested_document_do_not_need_a_table() -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(50)) + "  " * 50 + "leaf\n"
    doc = parse_yaml(text, Problems("f.yaml"))
    assert doc is not None
    path = tuple(f"k{i}" for i in range(50))
    assert doc.marks.value_at(path) == Mark(51, 101)
    assert doc.marks.key_at(path) == Mark(50, 99)


def test_parses_with_libyaml() -> None:
    """The speed of loading rests on libyaml's parser; a silent fallback would triple it."""
    from yaml._yaml import CParser

    from loopdev.config import source

    assert issubclass(source._Loader, CParser)
