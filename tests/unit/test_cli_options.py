"""Global options after the command (as kubectl and skaffold take them), and shell completion
of commands, options, profiles, resources and images through click's completion variables."""

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
  manifests: [k8s/*.yaml]
resources:
  web: {workload: deployment/web}
  worker: {workload: deployment/worker}
local:
  gen: {cmd: make}
profiles:
  dev: {namespace: from-dev}
  debug: {namespace: from-debug}
  prod: {namespace: from-prod}
  onkind:
    activation: [{kubeContext: 'kind-*'}]
    namespace: from-kind
"""


DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  template:
    spec:
      containers: [{{name: c, image: "busybox:1"}}]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "loopfile.yaml").write_text(LOOPFILE)
    return tmp_path / "loopfile.yaml"


def run(*args: str, env: dict[str, str] | None = None) -> object:
    return CliRunner().invoke(main_group, list(args), env=env)


@pytest.mark.parametrize(
    "args",
    [
        ["-f", "{f}", "-p", "dev", "validate"],
        ["validate", "-f", "{f}", "-p", "dev"],
        ["-f", "{f}", "validate", "--profile", "dev"],
        ["-p", "dev", "validate", "--file", "{f}"],
    ],
)
def test_file_and_profile_before_or_after_the_command(project: Path, args: list[str]) -> None:
    result = run(*(a.replace("{f}", str(project)) for a in args))
    assert result.exit_code == 0, result.output
    assert "profiles: dev)" in result.output


def test_profiles_add_up_across_both_places_in_order(project: Path) -> None:
    result = run("-p", "dev", "validate", "-f", str(project), "-p", "prod", "--print")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output)["namespace"] == "from-prod"  # the last one wins
    assert "profiles: dev, prod" in result.output


def test_namespace_and_context_after_the_command(project: Path) -> None:
    result = run("validate", "-f", str(project), "--print", "--namespace", "override")
    assert result.exit_code == 0 and yaml.safe_load(result.output)["namespace"] == "override"
    kind = run("validate", "-f", str(project), "--context", "kind-dev")
    assert kind.exit_code == 0 and "profiles: onkind)" in kind.output, kind.output


def test_debug_after_the_command_shows_the_traceback(tmp_path: Path) -> None:
    path = tmp_path / "loopfile.yaml"
    path.write_text("version: v1\nname: demo\ndeploy: {chart: 5}\n")
    plain = run("validate", "-f", str(path))
    assert plain.exit_code == 2 and "Traceback" not in plain.output
    debug = run("validate", "-f", str(path), "--debug")
    assert debug.exit_code == 2 and "Traceback" in debug.output


def _kubeconfig(tmp_path: Path) -> Path:
    """A current local context and a remote one, so the refusal proves which was used."""
    path = tmp_path / "kubeconfig"
    clusters = [
        {"name": "local", "cluster": {"server": "https://127.0.0.1:1"}},
        {"name": "remote", "cluster": {"server": "https://203.0.113.7:6443"}},
    ]
    contexts = [
        {"name": "kind-local", "context": {"cluster": "local", "user": "u"}},
        {"name": "prod-eu", "context": {"cluster": "remote", "user": "u"}},
    ]
    data = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "contexts": contexts,
        "users": [{"name": "u", "user": {"token": "t"}}],
        "current-context": "kind-local",
    }
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("command", [["ci"], ["up", "--no-tui"], ["down"]])
def test_context_after_a_cluster_command_is_the_one_used(
    project: Path, tmp_path: Path, command: list[str]
) -> None:
    env = {"KUBECONFIG": str(_kubeconfig(tmp_path))}
    result = run(*command, "-f", str(project), "-p", "dev", "--context", "prod-eu", env=env)
    assert "No such option" not in result.output
    assert result.exit_code == 2, result.output
    assert "refusing to deploy to kube context 'prod-eu'" in result.output


def test_every_command_takes_the_global_options() -> None:
    for name in main_group.list_commands(None):  # type: ignore[arg-type]
        result = run(name, "--help")
        assert result.exit_code == 0, (name, result.output)
        for option in ("--file", "--profile", "--context", "--namespace", "--debug"):
            assert option in result.output, (name, option)


def complete(shell: str, words: str, cwd: Path | None = None) -> list[str]:
    """What click's completion protocol answers for the command line ``words``."""
    parts = words.split(" ")
    env = {"_LOOPDEV_COMPLETE": f"{shell}_complete", "COMP_WORDS": words}
    # bash and zsh name the word being completed by index, fish by its text
    env["COMP_CWORD"] = parts[-1] if shell == "fish" else str(len(parts) - 1)
    result = CliRunner().invoke(main_group, [], env=env, prog_name="loopdev")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line]
    if shell == "bash":
        return [line.split(",", 1)[1] for line in lines]
    if shell == "zsh":  # type, value, help, in threes
        return lines[1::3]
    return [line.split(",", 1)[1].split("\t")[0] for line in lines]  # fish: type,value\thelp


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_of_profiles_after_the_command(project: Path, shell: str) -> None:
    assert complete(shell, f"loopdev up -f {project} -p d") == ["dev", "debug"]
    assert complete(shell, f"loopdev -f {project} ci --profile ") == [
        "dev",
        "debug",
        "prod",
        "onkind",
    ]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_of_resource_and_image_names(project: Path, shell: str) -> None:
    assert complete(shell, f"loopdev -f {project} trigger w") == ["web", "worker"]
    assert complete(shell, f"loopdev trigger -f {project} ") == ["web", "worker", "gen", "api"]
    assert complete(shell, f"loopdev build -f {project} ") == ["api"]


def test_completion_finds_the_loopfile_in_the_working_directory(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.parent)
    assert complete("bash", "loopdev validate -p p") == ["prod"]
    assert "render" in complete("bash", "loopdev re")


def test_completion_with_a_broken_loopfile_completes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "loopfile.yaml").write_text("profiles: [unclosed\n")
    monkeypatch.chdir(tmp_path)
    assert complete("bash", "loopdev up -p ") == []
    monkeypatch.chdir(tmp_path.parent)  # no loopfile at all
    assert complete("zsh", "loopdev trigger ") == []


def test_completion_scripts_are_printed_for_each_shell() -> None:
    for shell in ("bash", "zsh", "fish"):
        env = {"_LOOPDEV_COMPLETE": f"{shell}_source"}
        result = CliRunner().invoke(main_group, [], env=env, prog_name="loopdev")
        assert result.exit_code == 0 and "_LOOPDEV_COMPLETE" in result.output, shell


def test_output_help_says_what_each_command_defaults_to() -> None:
    ci = " ".join(run("ci", "--help").output.split())  # help text wraps at any width
    assert "dashboard" not in ci and "Default: plain." in ci
    up = " ".join(run("up", "--help").output.split())
    assert "Default: the dashboard on a terminal, else plain." in up


def test_render_output_stdout_is_only_the_yaml_stream(tmp_path: Path) -> None:
    """`render` takes --output too (`-` or DIR): its warnings never mix into the YAML."""
    (tmp_path / "k8s").mkdir()
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "k8s" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
        + "".join("---\n" + DEPLOY.format(name=n) for n in ("web", "worker"))
    )
    (tmp_path / "loopfile.yaml").write_text(LOOPFILE)
    result = CliRunner().invoke(
        main_group, ["render", "-f", str(tmp_path / "loopfile.yaml"), "--output", "-"]
    )
    assert result.exit_code == 0, result.output
    assert "warning: image 'api' is not used" in result.stderr
    docs = list(yaml.safe_load_all(result.stdout))
    assert sorted(d["metadata"]["name"] for d in docs) == ["a", "web", "worker"]
