"""Valid test loopfiles and every bundled example pass both the JSON Schema and the loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from loopdev.cli import main_group
from loopdev.config.load import load_loopfile
from loopdev.config.schema import is_schema_valid, schema

HERE = Path(__file__).parent
REPO = HERE.parents[2]
VALID = sorted((HERE / "valid").glob("*.yaml"))
EXAMPLES = sorted(REPO.glob("examples/*/loopfile.yaml"))


@pytest.mark.parametrize("path", VALID + EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_passes_schema_and_loader(path: Path) -> None:
    assert is_schema_valid(yaml.safe_load(path.read_text()))
    model = load_loopfile(path, env={})
    assert model.path == path.resolve()
    result = CliRunner().invoke(main_group, ["-f", str(path), "validate"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ")


@pytest.mark.parametrize("path", VALID + EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_profile_of_valid_files_loads(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    for name in data.get("profiles", {}):
        assert name in load_loopfile(path, [name], env={}).active_profiles


def test_package_schema_is_identical_to_repo_root_copy() -> None:
    root = (REPO / "loopfile.schema.json").read_bytes()
    shipped = (REPO / "src/loopdev/config/loopfile.schema.json").read_bytes()
    assert root == shipped, "copy loopfile.schema.json to src/loopdev/config/"
    assert json.loads(root) == schema()


def _objects(node: object, where: str = "#") -> list[tuple[str, dict]]:
    found = []
    if isinstance(node, dict):
        if "properties" in node:
            found.append((where, node))
        for key, value in node.items():
            found += _objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _objects(value, f"{where}/{i}")
    return found


def test_schema_describes_every_property_and_closes_every_object() -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema())
    objects = _objects(schema())
    assert len(objects) >= 15
    for where, node in objects:
        assert node.get("additionalProperties") is False, where
        for key, prop in node["properties"].items():
            assert prop.get("description"), f"{where}/properties/{key} has no description"
        for key, prop in node.get("patternProperties", {}).items():
            assert prop.get("description"), f"{where}/patternProperties/{key} has no description"
    assert schema()["$id"] and schema()["title"]


def test_reference_doc_mentions_every_schema_key() -> None:
    doc = (REPO / "docs" / "loopfile.md").read_text()
    keys = {key for _, node in _objects(schema()) for key in node["properties"]}
    missing = sorted(k for k in keys if f"`{k}`" not in doc)
    assert not missing, f"docs/loopfile.md does not document: {missing}"
