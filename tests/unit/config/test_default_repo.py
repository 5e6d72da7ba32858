"""``--default-repo`` / ``LOOPDEV_DEFAULT_REPO``: the registry images are pushed to."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from loopdev.cli import main_group

LOOPFILE = """\
version: v1
name: demo
images:
  api: {context: .}
deploy:
  manifests: [k8s.yaml]
"""


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "k8s.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    (tmp_path / "loopfile.yaml").write_text(LOOPFILE + "build: {registry: localhost:5000}\n")
    monkeypatch.delenv("LOOPDEV_DEFAULT_REPO", raising=False)
    return tmp_path / "loopfile.yaml"


def printed(project: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    result = CliRunner().invoke(
        main_group, ["-f", str(project), *args, "validate", "--print"], env=env
    )
    assert result.exit_code == 0, result.output
    return yaml.safe_load(result.output)


def test_flag_and_env_override_build_registry(project: Path) -> None:
    assert printed(project)["build"]["registry"] == "localhost:5000"
    flag = printed(project, "--default-repo", "registry.example.com/team/")
    assert flag["build"]["registry"] == "registry.example.com/team"
    env = printed(project, env={"LOOPDEV_DEFAULT_REPO": "10.0.0.5:5000/dev"})
    assert env["build"]["registry"] == "10.0.0.5:5000/dev"
    both = printed(project, "--default-repo", "a.example.com", env={"LOOPDEV_DEFAULT_REPO": "b.io"})
    assert both["build"]["registry"] == "a.example.com"  # the flag wins over the environment


def test_flag_after_the_command(project: Path) -> None:
    result = CliRunner().invoke(
        main_group, ["-f", str(project), "validate", "--print", "--default-repo", "c.example.com"]
    )
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output)["build"]["registry"] == "c.example.com"


@pytest.mark.parametrize(
    ("extra", "repo", "fragment"),
    [
        ("", "https://registry.example.com", "is not a registry"),
        ("", "Registry.example.com/Team", "is not a registry"),
        ("build: {delivery: kind}\n", "localhost:5000", "the loopfile sets build.delivery: kind"),
    ],
)
def test_bad_default_repo_is_a_usage_error(
    project: Path, extra: str, repo: str, fragment: str
) -> None:
    project.write_text(LOOPFILE + extra)
    result = CliRunner().invoke(
        main_group, ["-f", str(project), "--default-repo", repo, "validate"]
    )
    assert result.exit_code == 2
    assert fragment in result.output
    assert "Traceback" not in result.output
