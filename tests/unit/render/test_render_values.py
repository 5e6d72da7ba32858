"""Values layering and Helm-style --set parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopdev.errors import ConfigError, UsageError
from loopdev.render.values import apply_set, deep_merge, layer_values, load_values_file


def test_deep_merge_merges_mappings_and_replaces_lists() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "keep": True}
    out = deep_merge(base, {"a": {"c": [3], "d": 4}})
    assert out == {"a": {"b": 1, "c": [3], "d": 4}, "keep": True}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "keep": True}  # inputs untouched


def test_deep_merge_scalar_over_mapping_replaces() -> None:
    assert deep_merge({"a": {"b": 1}}, {"a": "flat"}) == {"a": "flat"}
    assert deep_merge({"a": "flat"}, {"a": {"b": 1}}) == {"a": {"b": 1}}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("a=1", {"a": 1}),
        ("a=-3", {"a": -3}),
        ("a=007", {"a": "007"}),
        ("a=1.5", {"a": "1.5"}),
        ("a=true,b=false", {"a": True, "b": False}),
        ("a=True,b=FALSE", {"a": True, "b": False}),
        ("a=Null", {"a": "Null"}),
        ("a=null", {"a": None}),
        ("a=", {"a": ""}),
        ("a.b.c=x", {"a": {"b": {"c": "x"}}}),
        ("a[1].b=x", {"a": [None, {"b": "x"}]}),
        ("a[0]=x", {"a": ["x"]}),
        ("a={x,2,true}", {"a": ["x", 2, True]}),
        ("a={}", {"a": []}),
        (r"a\.b=c\,d", {"a.b": "c,d"}),
        ("url=http://h/?q=1", {"url": "http://h/?q=1"}),
    ],
)
def test_set_typing_and_paths(expr: str, expected: dict[str, object]) -> None:
    values: dict[str, object] = {}
    apply_set(values, expr)
    assert values == expected


def test_set_overrides_existing_and_keeps_siblings() -> None:
    values = {"image": {"tag": "v1", "pull": "Always"}, "list": [{"a": 1}, {"a": 2}]}
    apply_set(values, "image.tag=v2,list[1].a=9")
    assert values == {"image": {"tag": "v2", "pull": "Always"}, "list": [{"a": 1}, {"a": 9}]}


@pytest.mark.parametrize("expr", ["novalue", "=x", "a[x]=1", "[0]=1"])
def test_bad_set_is_a_usage_error(expr: str) -> None:
    with pytest.raises(UsageError) as info:
        apply_set({}, expr)
    assert expr in info.value.message
    assert info.value.exit_code == 2


def test_set_replaces_a_value_of_another_shape() -> None:
    values = {"a": {"b": 1}, "c": [1]}
    apply_set(values, "a[0].x=1,c.d=2")
    assert values == {"a": [{"x": 1}], "c": {"d": 2}}


def test_set_huge_index_is_refused() -> None:
    with pytest.raises(UsageError, match="too large"):
        apply_set({}, "a[99999999]=1")


def test_layers_apply_lowest_first_then_set() -> None:
    out = layer_values([{"a": 1, "b": 1}, {"b": 2, "c": 2}], ["c=3"])
    assert out == {"a": 1, "b": 2, "c": 3}


def test_values_file_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "v.yaml"
    bad.write_text("a: 1\nb: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_values_file(bad)
    assert info.value.problems[0].file == str(bad)
    assert info.value.problems[0].line >= 2
    listy = tmp_path / "l.yaml"
    listy.write_text("- 1\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_values_file(listy)
    with pytest.raises(ConfigError, match="not found"):
        load_values_file(tmp_path / "missing.yaml")
    assert load_values_file(tmp_path / "missing.yaml", required=False) == {}


def test_values_files_keep_dates_as_text(tmp_path: Path) -> None:
    f = tmp_path / "v.yaml"
    f.write_text("since: 2024-01-01\n")
    assert load_values_file(f) == {"since": "2024-01-01"}
