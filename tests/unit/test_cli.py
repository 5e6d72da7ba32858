"""The command line surface: help, exit codes, no tracebacks, validate and init end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from loopdev.cli import main_group
from loopdev.config.load import load_loopfile

COMMANDS = ["up", "down", "ci", "render", "build", "validate", "init", "version"]


def run(*args: str) -> object:
    return CliRunner().invoke(main_group, list(args))


def test_help_lists_every_command_and_global_option() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f"  {name}" in result.output
    for option in ("--file", "--profile", "--context", "--namespace", "--debug"):
        assert option in result.output


def _project(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "k8s").mkdir(exist_ok=True)
    path = tmp_path / "loopfile.yaml"
    path.write_text(
        "version: v1\nname: demo\ndeploy:\n  manifests: [k8s/*.yaml]\n"
        "  values: {db: {password: hunter2, user: app}, apiToken: abc123}\n"
        "local:\n  seed: {cmd: ./seed, env: {DB_PASSWORD: s3cret, MODE: dev}}\n"
        "profiles:\n  big:\n    deploy: {values: {replicas: 3}}\n" + extra
    )
    return path


def test_config_error_exits_2_without_traceback_unless_debug(tmp_path: Path) -> None:
    path = tmp_path / "loopfile.yaml"
    path.write_text("version: v1\nname: demo\ndeploy: {chart: 5}\n")
    result = run("-f", str(path), "validate")
    assert result.exit_code == 2
    assert "loopfile.yaml:3:17: deploy.chart: 5 is an integer, expected a string" in result.output
    assert "Traceback" not in result.output
    debug = run("--debug", "-f", str(path), "validate")
    assert debug.exit_code == 2 and "Traceback" in debug.output


def test_missing_loopfile_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("validate")
    assert result.exit_code == 2 and "no loopfile.yaml in" in result.output


def test_validate_summarises_and_accepts_profiles_both_places(tmp_path: Path) -> None:
    path = _project(tmp_path)
    result = run("-f", str(path), "validate")
    assert result.exit_code == 0, result.output
    assert "ok: " in result.output and "0 images, 0 resources" in result.output
    assert "profiles: none" in result.output
    assert "profiles: big" in run("-f", str(path), "validate", "-p", "big").output
    assert "profiles: big" in run("-f", str(path), "-p", "big", "validate").output
    unknown = run("-f", str(path), "validate", "-p", "huge")
    assert unknown.exit_code == 2 and "expected one of 'big'" in unknown.output


def test_validate_print_shows_merged_config_with_secrets_masked(tmp_path: Path) -> None:
    result = run("-f", str(_project(tmp_path)), "validate", "-p", "big", "--print")
    assert result.exit_code == 0, result.output
    for secret in ("hunter2", "abc123", "s3cret"):
        assert secret not in result.output
    printed = yaml.safe_load(result.output)
    assert printed["deploy"]["values"]["replicas"] == 3
    assert printed["deploy"]["values"]["db"]["user"] == "app"
    assert printed["local"]["seed"]["env"]["MODE"] == "dev"
    assert "profiles" not in printed and result.output.startswith("# effective configuration")


def test_namespace_option_overrides(tmp_path: Path) -> None:
    result = run("-f", str(_project(tmp_path)), "--namespace", "other", "validate", "--print")
    assert yaml.safe_load(result.output)["namespace"] == "other"


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "Shop_Front"
    for sub in ("api", "web", "deploy/k8s"):
        (repo / sub).mkdir(parents=True)
    (repo / "api" / "Dockerfile").write_text("FROM scratch\n")
    (repo / "web" / "web.Dockerfile").write_text("FROM scratch\n")
    (repo / "node_modules" / "x").mkdir(parents=True)
    (repo / "node_modules" / "x" / "Dockerfile").write_text("FROM scratch\n")
    (repo / "deploy" / "k8s" / "app.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: api\n"
        "          image: ghcr.io/acme/api:1.2\n          ports: [{containerPort: 80}]\n"
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: api}\n"
    )
    (repo / "deploy" / "notes.yaml").write_text("just: data\n")
    return repo


def test_init_writes_a_loadable_starter_from_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repo(tmp_path)
    monkeypatch.chdir(repo)
    result = run("init")
    assert result.exit_code == 0, result.output
    text = (repo / "loopfile.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=")
    model = load_loopfile(repo / "loopfile.yaml", env={})
    assert model.name == "shop-front"
    assert set(model.images) == {"ghcr.io/acme/api", "web"}
    assert model.images["web"].dockerfile.name == "web.Dockerfile"
    assert model.deploy.kind == "manifests" and model.deploy.manifests == ("deploy/k8s/*.yaml",)
    assert model.resources["api"].workload == "deployment/api"
    assert model.resources["api"].port_forwards[0].local == 8080
    again = run("init")
    assert again.exit_code == 2 and "refusing to overwrite" in again.output
    assert (repo / "loopfile.yaml").read_text() == text


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"chart/Chart.yaml": "name: x\n", "chart/templates/d.yaml": "n: {{ values.n }}\n"},
            ("chart", "chart"),
        ),
        (
            {"helm/Chart.yaml": "name: x\n", "helm/templates/d.yaml": "n: {{ .Values.n }}\n"},
            ("helm", "helm"),
        ),
        ({"overlays/dev/kustomization.yaml": "resources: []\n"}, ("kustomize", "overlays/dev")),
        ({"README.md": "nothing to deploy\n"}, ("manifests", None)),
    ],
)
def test_init_picks_the_deploy_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], expected: tuple
) -> None:
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    monkeypatch.chdir(tmp_path)
    result = run("init")
    assert result.exit_code == 0, result.output
    deploy = yaml.safe_load((tmp_path / "loopfile.yaml").read_text())["deploy"]
    kind, where = expected
    if where is None:
        assert (
            deploy == {"manifests": ["k8s/*.yaml"]} and "no Kubernetes manifests" in result.output
        )
    else:
        assert deploy == {kind: where}


def test_error_messages_are_scrubbed_of_secret_values(capsys: pytest.CaptureFixture[str]) -> None:
    import click

    from loopdev.cli import _report
    from loopdev.commands.options import GlobalOptions
    from loopdev.redact import REDACTOR

    REDACTOR.add("s3cr3t-value-9")
    try:
        with click.Context(main_group, obj=GlobalOptions()) as ctx:
            _report(ctx, "the API server refused the request (422): data.pw: s3cr3t-value-9")
    finally:
        REDACTOR.clear()
    err = capsys.readouterr().err
    assert "s3cr3t-value-9" not in err and "data.pw: ********" in err
