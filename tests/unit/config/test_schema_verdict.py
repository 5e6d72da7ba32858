"""The fast verdict (fastjsonschema over a draft-07 translation) never disagrees with jsonschema.

jsonschema stays the authority: it words every error. The fast verdict only lets a valid file
skip it, so it must never call valid what jsonschema rejects; these tests hold it to equality.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from loopdev.config import schema_verdict
from loopdev.config.schema import is_schema_valid, schema

HERE = Path(__file__).parent
REPO = HERE.parents[2]
DOCUMENTS = [
    *sorted((HERE / "valid").glob("*.yaml")),
    *sorted(REPO.glob("examples/*/loopfile.yaml")),
    *(
        p
        for p in sorted((HERE / "invalid").glob("*.yaml"))
        if not p.read_text().startswith("# yaml")
    ),
]
ODD_VALUES: list[Any] = [None, "", "x", "/abs", "UPPER", 0, -1, 70000, 1.5, True, [], {}, ["x"]]


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


def _mutants(doc: Any, rng: random.Random) -> Iterator[Any]:
    """Each node replaced by odd values, deleted, and each mapping given an unknown key."""
    for path in _paths(doc):
        for value in [*rng.sample(ODD_VALUES, 4), "<delete>", "<extra>"]:
            out = copy.deepcopy(doc)
            parent = out
            for part in path[:-1]:
                parent = parent[part]
            if value == "<delete>":
                del parent[path[-1]]
            elif value == "<extra>":
                if not isinstance(parent[path[-1]], dict):
                    continue
                parent[path[-1]]["unknownKey"] = 1
            else:
                parent[path[-1]] = value
            yield out


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_same_verdict_on_every_example_and_corpus_document(path: Path) -> None:
    data = _load(path)
    assert schema_verdict.is_valid(data) is is_schema_valid(data)


def test_same_verdict_on_thousands_of_mutated_documents() -> None:
    rng = random.Random(20261126)
    bases = [
        _load(HERE / "valid" / "full.yaml"),
        *(_load(p) for p in REPO.glob("examples/*/loopfile.yaml")),
    ]
    checked = valid = 0
    for base in bases:
        for mutant in _mutants(base, rng):
            fast, slow = schema_verdict.is_valid(mutant), is_schema_valid(mutant)
            assert fast is slow, f"fast={fast} jsonschema={slow}: {mutant}"
            checked += 1
            valid += slow
    assert checked > 1000 and 0 < valid < checked  # both verdicts well represented


def _validate(root: dict[str, Any], data: Any) -> bool:
    namespace: dict[str, Any] = {}
    exec(schema_verdict.generated_source(root), namespace)
    try:
        namespace["validate"](data)
    except Exception:
        return False
    return True


def test_siblings_of_a_ref_still_apply() -> None:
    """draft-07 ignores keywords beside ``$ref``; Draft 2020-12 applies them."""
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"obj": {"type": "object"}},
        "$ref": "#/$defs/obj",
        "required": ["name"],
        "dependentRequired": {"a": ["b"]},
    }
    assert _validate(root, {"name": 1})
    assert not _validate(root, {})
    assert not _validate(root, {"name": 1, "a": 1})
    assert not _validate(root, [])


@pytest.mark.parametrize(
    "root",
    [
        {"unevaluatedProperties": False},
        {"prefixItems": [{"type": "string"}]},
        {"$ref": "https://example.com/other.json"},
    ],
)
def test_keywords_without_a_translation_are_refused(root: dict[str, Any]) -> None:
    with pytest.raises(schema_verdict.UnsupportedSchema):
        schema_verdict.to_draft7(root)


def test_the_shipped_schema_translates() -> None:
    schema_verdict.to_draft7(schema())


def test_compiled_validator_is_cached_on_disk_and_a_damaged_copy_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPDEV_CACHE_DIR", str(tmp_path))
    good, bad = _load(HERE / "valid" / "full.yaml"), {"version": "v1"}

    def fresh_process_verdicts() -> tuple[bool, bool]:
        schema_verdict._compiled.cache_clear()
        return schema_verdict.is_valid(good), schema_verdict.is_valid(bad)

    try:
        assert fresh_process_verdicts() == (True, False)
        (cached,) = (tmp_path / "schema").glob("loopfile_schema_*")
        written = cached.read_bytes()
        assert fresh_process_verdicts() == (True, False)
        assert cached.read_bytes() == written  # read, not rewritten
        for damage in [b"", written[:40], b"not bytecode at all", written[:16] + b"\xff" * 64]:
            cached.write_bytes(damage)
            assert fresh_process_verdicts() == (True, False)
            assert cached.read_bytes() == written  # dropped and written again
    finally:
        schema_verdict._compiled.cache_clear()


def test_an_unwritable_cache_only_costs_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory would be")
    monkeypatch.setenv("LOOPDEV_CACHE_DIR", str(blocker))
    schema_verdict._compiled.cache_clear()
    try:
        assert schema_verdict.is_valid(_load(HERE / "valid" / "full.yaml"))
        assert not schema_verdict.is_valid({"version": "v1"})
    finally:
        schema_verdict._compiled.cache_clear()
