"""YAML alias bombs ("billion laughs") are refused at the value to blame, in every YAML file
loopdev reads from the user: the loopfile, values files, manifests, kustomizations.

Six levels of nine aliases (531,441 values) is enough to prove the bound: without it each of
these loads in about a second and the assertions fail; nine levels would hang.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from loopdev.cli import main_group
from loopdev.config.aliases import MIN_BUDGET, check_expansion
from loopdev.config.problems import Problems
from loopdev.config.source import parse_yaml
from loopdev.errors import ConfigError, TemplateError
from loopdev.render.documents import parse_documents
from loopdev.render.inputs import kustomize_dirs
from loopdev.render.values import load_values_file
from loopdev.render.yamlio import AliasBombError, load


def bomb(levels: int = 6, indent: str = "") -> str:
    """``a0`` .. ``aN``, each a list of nine aliases to the one before: 9**N values."""
    lines = [f'{indent}a0: &a0 ["lol"]']
    for i in range(1, levels + 1):
        lines.append(f"{indent}a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


LOOPFILE = "version: v1\nname: bomb\nx-bomb:\n" + bomb(indent="  ") + "deploy:\n  chart: chart\n"


def test_loopfile_bomb_is_one_located_problem() -> None:
    problems = Problems("loopfile.yaml", LOOPFILE)
    assert parse_yaml(LOOPFILE, problems) is None
    (problem,) = problems.items
    # a5 is the first value past the bound whose parts (the a4 lists) are each below it;
    # a0 is 2 values (a list and "lol"), each level 1 + 9 times the one before
    size = 2
    for _ in range(5):
        size = 1 + 9 * size
    assert (problem.line, problem.col, problem.path) == (9, 3, "x-bomb.a5")
    assert f"aliases expand this value to {size:,} values" in problem.message
    assert f"expected at most {MIN_BUDGET:,}" in problem.message and "alias bomb" in problem.message


@pytest.mark.parametrize("args", [["validate"], ["validate", "--print"], ["render"]])
def test_cli_refuses_a_loopfile_bomb_with_exit_2(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "loopfile.yaml").write_text(LOOPFILE)
    result = CliRunner().invoke(main_group, ["-f", str(tmp_path / "loopfile.yaml"), *args])
    assert result.exit_code == 2, result.output
    assert "loopfile.yaml:9:3: x-bomb.a5: YAML aliases expand this value to" in result.output
    assert "Traceback" not in result.output


def test_anchors_that_repeat_a_little_still_load() -> None:
    text = (
        "version: v1\nname: ok\nx-base: &base {context: ., buildArgs: {A: '1'}}\n"
        "images:\n  a: *base\n  b: {<<: *base, dockerfile: b.Dockerfile}\n"
        "deploy: {chart: chart}\n"
    )
    problems = Problems("f", text)
    doc = parse_yaml(text, problems)
    assert doc is not None and not problems
    assert doc.data["images"]["b"] == {
        "dockerfile": "b.Dockerfile",
        "context": ".",
        "buildArgs": {"A": "1"},
    }


def test_a_large_file_may_expand_in_proportion() -> None:
    """The bound grows with the file: ten times the values written, past the minimum."""
    items = "".join(f"  k{i}: &k{i} [v, v, v, v, v]\n" for i in range(12_000))
    uses = "".join(f"  u{i}: *k{i}\n" for i in range(12_000))
    node = yaml.compose(f"defs:\n{items}uses:\n{uses}", Loader=yaml.CSafeLoader)
    assert node is not None and check_expansion(node) is None


def test_a_value_inside_itself_does_not_hang_the_check() -> None:
    problems = Problems("f")
    assert parse_yaml("a: &a [x, *a]\n", problems) is not None
    assert "contains itself" in problems.items[0].message


def test_values_file_bomb_names_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "values-dev.yaml"
    path.write_text(bomb())
    with pytest.raises(ConfigError) as err:
        load_values_file(path)
    (problem,) = err.value.problems
    assert (problem.file, problem.line) == (str(path), 6)
    assert problem.message.startswith("a5: YAML aliases expand this value")


def test_manifest_bomb_names_file_and_line() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations:\n"
    with pytest.raises(TemplateError) as err:
        parse_documents(text + bomb(indent="    "), "k8s/cm.yaml", plain_file=True)
    message = err.value.render()
    assert message.startswith("k8s/cm.yaml:11: metadata.annotations.a5: YAML aliases expand")
    assert "indentation" not in message  # not a syntax problem


def test_kustomization_bomb_is_not_expanded(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [a.yaml]\n" + bomb())
    with pytest.raises(AliasBombError):
        load((tmp_path / "kustomization.yaml").read_text())
    assert kustomize_dirs(tmp_path) == [tmp_path.resolve()]  # unreadable: kustomize reports it
