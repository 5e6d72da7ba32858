"""YAML in and out: round trips of awkward strings, aliases, merges, the compiled-template cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from jinja2 import DictLoader, Environment

from loopdev.errors import TemplateError
from loopdev.render.documents import parse_documents
from loopdev.render.jinja_cache import CodeCache
from loopdev.render.yamlout import to_yaml

AWKWARD = [
    "yes", "no", "on", "off", "y", "n", "true", "False", "null", "~", "", " ", " lead",
    "trail ", "a: b", "a #b", "#x", "- x", "? x", ": x", "1e3", "0x1F", "017", "1:20",
    "1_000", ".inf", "-.inf", ".nan", "NaN", "123", "1.0", "+1", "2024-01-01",
    "2024-01-01T10:00:00Z", "multi\nline", "multi\nline\n", "trailing space \nline",
    "\tleading tab", "ünï ✓", "'single", '"double', "*star", "&amp", "!bang", "%pct",
    "@at", "`tick", "{x}", "[x]", "=", "<<", "back\\slash", "line\n\n\nbreaks\n",
]  # fmt: skip


@pytest.mark.parametrize("value", AWKWARD)
def test_strings_round_trip_through_any_yaml_reader(value: str) -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x"},
        "data": {value: value},
    }
    text = to_yaml([obj])
    assert yaml.safe_load(text) == obj  # a stock reader, timestamps and all
    assert parse_documents(text, "t") == [obj]


def test_scalars_keep_their_types() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "X",
        "metadata": {"name": "x"},
        "spec": {"i": 3, "neg": -1, "f": 1.5, "t": True, "n": None, "e": {}, "l": [], "big": 2**40},
    }
    assert parse_documents(to_yaml([obj]), "t") == [obj]


def test_loading_dates_stay_text_and_merges_and_aliases_work() -> None:
    text = (
        "apiVersion: v1\nkind: X\nmetadata: &m {name: a}\n"
        "spec:\n  since: 2024-01-01\n  base: &b {x: 1, y: 2}\n"
        "  over:\n    <<: *b\n    y: 3\n  copy: *m\n"
    )
    [obj] = parse_documents(text, "t")
    assert obj["spec"]["since"] == "2024-01-01"
    assert obj["spec"]["over"] == {"x": 1, "y": 3}
    assert obj["spec"]["copy"] == {"name": "a"}
    assert obj["spec"]["copy"] is not obj["metadata"]  # no shared objects to mutate twice
    assert "&" not in to_yaml([obj]) and "*" not in to_yaml([obj])


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    with pytest.raises(TemplateError, match="alias bomb"):
        parse_documents("\n".join(lines) + "\n", "bomb")


def test_list_kinds_are_flattened() -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
        "- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n"
    )
    assert [o["kind"] for o in parse_documents(text, "t")] == ["ConfigMap", "Secret"]
    custom = "apiVersion: x/v1\nkind: IPAllowList\nmetadata: {name: a}\nitems: [10.0.0.1]\n"
    assert parse_documents(custom, "t")[0]["kind"] == "IPAllowList"


def _env(cache: CodeCache, source: str) -> Environment:
    return Environment(loader=DictLoader({"t.j2": source}), bytecode_cache=cache)


def test_code_cache_serves_a_new_process_from_disk(tmp_path: Path) -> None:
    _env(CodeCache(tmp_path / "c"), "{{ 1 + 1 }}").get_template("t.j2")
    assert list((tmp_path / "c").iterdir())

    fresh = _env(CodeCache(tmp_path / "c"), "{{ 1 + 1 }}")

    def no_compile(*_a: object, **_k: object) -> object:
        raise AssertionError("compiled although the disk cache had it")

    fresh.compile = no_compile  # type: ignore[method-assign]
    assert fresh.get_template("t.j2").render() == "2"

    changed = _env(CodeCache(tmp_path / "c"), "{{ 2 + 2 }}")
    assert changed.get_template("t.j2").render() == "4"  # checksum differs: recompiled


def test_code_cache_without_a_writable_directory_still_works(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = _env(CodeCache(blocker / "sub"), "{{ 'ok' }}")
    assert env.get_template("t.j2").render() == "ok"
    assert env.get_template("t.j2").render() == "ok"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("abc", "abc"),
        ("yes", "'yes'"),
        (1, "1"),
        (True, "true"),
        (None, ""),
        ({}, "{}"),
        ([], "[]"),
        ({"a": [1, {"b": "c"}]}, "a:\n- 1\n- b: c"),
    ],
)
def test_toyaml_fragments_have_no_document_markers(value: object, text: str) -> None:
    from loopdev.render.filters import toyaml

    assert toyaml(value) == text


def _nest(value: object) -> dict[str, object]:
    """``value`` in every position the writer lays out differently."""
    return {
        "apiVersion": "v1",
        "kind": "X",
        "metadata": {"name": "x", "labels": {"a": value}},
        "value": value,
        "list": [value, [value, [value]], {"k": value, "l": [value]}, {}, []],
        "nested": {"deeper": {"items": [{"a": value, "b": [value, {"c": value}]}]}},
        "empty": {"d": {}, "l": []},
    }


EXTRA = ["a\rb", "a\u2028b", "a\x85b", "\n", "\n\n", " \n x", "x\n ", "|", ">", "- a\n- b"]


@pytest.mark.parametrize("value", [*AWKWARD, *EXTRA, 0, -5, True, False, None, 10**20])
def test_fast_writer_matches_pyyaml_byte_for_byte(value: object) -> None:
    from loopdev.render.yamlio import dump, dump_pyyaml

    obj = _nest(value)
    assert dump(obj) == dump_pyyaml(obj)
    if isinstance(value, str):
        keyed = {"apiVersion": "v1", "kind": "X", "metadata": {"name": "x"}, "data": {value: 1}}
        assert dump(keyed) == dump_pyyaml(keyed)


def test_fast_writer_falls_back_for_other_types() -> None:
    from loopdev.render.emit import emit
    from loopdev.render.yamlio import dump, dump_pyyaml

    for obj in ({"f": 1.5}, {1: "int key"}, {"t": ("tuple",)}, {"k": "a\u2028b"}):
        assert emit(obj, dump_pyyaml) is None
        assert dump(obj) == dump_pyyaml(obj)


def test_fast_writer_matches_pyyaml_on_the_examples() -> None:
    from loopdev.render.yamlio import dump, dump_pyyaml

    golden = Path(__file__).parent / "golden"
    docs = [d for f in sorted(golden.rglob("*.yaml")) for d in yaml.safe_load_all(f.read_text())]
    assert len(docs) > 10
    for doc in docs:
        assert dump(doc) == dump_pyyaml(doc)


def test_fast_writer_matches_pyyaml_on_random_documents() -> None:
    import random

    from loopdev.render.yamlio import dump, dump_pyyaml

    rng = random.Random(4)
    alphabet = "ab01 :#-?'\"\n\t|>{}[],&*!%@`.~=ü\\"

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))

    def value(depth: int) -> object:
        roll = rng.random()
        if depth > 3 or roll < 0.4:
            return rng.choice([text(), text(), rng.randint(-5, 5), True, None, "yes", "1.0"])
        if roll < 0.7:
            return {text(): value(depth + 1) for _ in range(rng.randint(0, 3))}
        return [value(depth + 1) for _ in range(rng.randint(0, 3))]

    for _ in range(400):
        doc = {"apiVersion": "v1", "kind": "X", "metadata": {"name": "x"}, "v": value(0)}
        assert dump(doc) == dump_pyyaml(doc), doc
