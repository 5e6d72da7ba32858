"""The model the loader builds, options handling, kube context discovery and versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopdev.commands.options import GlobalOptions
from loopdev.config import versions
from loopdev.config.kubeconfig import current_context
from loopdev.config.load import load_from_options, load_loopfile
from loopdev.config.model import PortForward
from loopdev.errors import ConfigError, UsageError

VALID = Path(__file__).parent / "valid"


def test_full_model_paths_absolute_and_defaults_filled() -> None:
    model = load_loopfile(VALID / "full.yaml", env={})
    root = VALID.resolve()
    assert model.root == root and model.name == "hello" and model.namespace == "hello-dev"
    api = model.images["hello-api"]
    assert api.context == root / "app" and api.dockerfile == root / "app" / "Dockerfile"
    assert api.build_args == {"BASE": "python:3.11-slim", "WORKERS": "2", "DEBUG": "true"}
    assert api.live is not None and api.live.sync[0].dest == "/app/"
    assert api.live.run[0].trigger == ("requirements.txt",)
    worker = model.images["registry.example.com:5000/team/worker"]
    assert worker.dockerfile == root / "app" / "api" / "Dockerfile.dev" and worker.live is None
    assert model.deploy.kind == "chart" and model.deploy.source == root / "chart"
    assert model.deploy.values_files == (root / "values" / "local.yaml",)
    assert model.deploy.rollout_timeout == 120.0 and model.deploy.release == "hello"
    api_res = model.resources["api"]
    assert api_res.port_forwards == (
        PortForward(8080, 8000),
        PortForward(9090, "metrics", "127.0.0.1"),
    )
    assert model.resources["db"].workload == "statefulset/db"
    assert model.local["codegen"].env == {"A": "b", "PORT": "8080"}
    assert model.local["codegen"].workdir == root
    assert model.local["docs"].readiness is not None
    assert model.build.registry == "localhost:5000" and model.allow_contexts[1] == "team-*"


def test_minimal_defaults() -> None:
    model = load_loopfile(VALID / "minimal.yaml", env={})
    assert model.namespace == "demo" and model.images == {} and model.deploy.release == "demo"
    assert model.deploy.manifests == ("k8s/*.yaml",) and model.deploy.rollout_timeout == 300.0
    assert model.build.delivery == "auto" and model.build.parallel == 2


def test_helm_object_release_and_default_workload() -> None:
    model = load_loopfile(VALID / "helm_object.yaml", env={})
    assert model.deploy.kind == "helm" and model.deploy.release == "demo-rel"
    assert model.resources["web"].workload == "deployment/web"
    assert model.resources["web"].port_forwards == (PortForward(8000, "http"),)


def test_merge_keys_from_extension_anchors() -> None:
    model = load_loopfile(VALID / "kustomize_anchors.yaml", env={})
    worker = model.resources["worker"]
    assert worker.trigger == "manual" and worker.labels == ("batch",)


def test_all_problems_reported_together_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "loopfile.yaml"
    path.write_text("version: v1\nname: Bad\nnamspace: x\ndeploy: {chart: nope}\n")
    with pytest.raises(ConfigError) as err:
        load_loopfile(path, env={})
    lines = [(p.line, p.path) for p in err.value.problems]
    assert lines == [(2, "name"), (3, "namspace"), (4, "deploy.chart")]
    assert "did you mean 'namespace'?" in err.value.problems[1].message
    assert err.value.exit_code == 2


def test_secret_looking_values_stay_out_of_messages(tmp_path: Path) -> None:
    path = tmp_path / "loopfile.yaml"
    path.write_text(
        "version: v1\nname: d\ndeploy: {manifests: [a]}\n"
        "local:\n  x: {cmd: c, env: {DB_PASSWORD: [hunter2]}}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_loopfile(path, env={})
    assert "hunter2" not in err.value.render()
    assert "local.x.env.DB_PASSWORD" in err.value.render()


def _options_project(tmp_path: Path) -> Path:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "loopfile.yaml").write_text(
        "version: v1\nname: demo\ndeploy: {manifests: [k8s/*.yaml]}\nprofiles:\n"
        "  kind:\n    activation: [{kubeContext: 'kind-*'}]\n    namespace: on-kind\n"
    )
    sub = tmp_path / "src" / "deep"
    sub.mkdir(parents=True)
    return sub


def test_load_from_options_finds_file_reads_context_and_overrides_namespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(_options_project(tmp_path))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\ncurrent-context: kind-dev\n")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    model = load_from_options(GlobalOptions())
    assert model.path == tmp_path.resolve() / "loopfile.yaml"
    assert model.active_profiles == ("kind",) and model.namespace == "on-kind"
    other = load_from_options(GlobalOptions(context="prod", namespace="mine"))
    assert other.active_profiles == () and other.namespace == "mine"
    with pytest.raises(UsageError):
        load_from_options(GlobalOptions(namespace="Not_Valid"))


def test_current_context_never_fails(tmp_path: Path) -> None:
    assert current_context({"KUBECONFIG": str(tmp_path / "missing")}) is None
    (tmp_path / "bad").write_text("{{{{")
    (tmp_path / "good").write_text("current-context: k3d-x\n")
    env = {"KUBECONFIG": f"{tmp_path / 'bad'}:{tmp_path / 'good'}"}
    assert current_context(env) == "k3d-x"
    assert current_context({"HOME": str(tmp_path)}) is None


def test_upgrade_chain_walks_versions_in_order() -> None:
    chain = {
        "v0": ("v1", lambda d: {**d, "steps": [*d.get("steps", []), "v0->v1"]}),
        "v1": ("v2", lambda d: {**d, "steps": [*d["steps"], "v1->v2"]}),
    }
    out = versions.upgrade({"version": "v0"}, chain)
    assert out == {"version": "v2", "steps": ["v0->v1", "v1->v2"]}
    assert versions.upgrade({"version": "v1", "x": 1}) == {"version": "v1", "x": 1}
    assert versions.is_newer("v2") and not versions.is_newer("v1")


def test_newer_version_asks_for_an_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "loopfile.yaml"
    path.write_text("version: v7\nname: demo\nfuture: {thing: 1}\n")
    with pytest.raises(ConfigError) as err:
        load_loopfile(path, env={})
    (problem,) = err.value.problems
    assert "needs a newer loopdev" in problem.message and problem.line == 1
    assert "upgrade" in (err.value.hint or "")


def test_rendered_error_shows_the_line_with_a_caret_but_never_a_secret_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "loopfile.yaml"
    path.write_text(
        "version: v1\nname: d\ndeploy: {manifests: [a]}\nlocal:\n"
        "  x: {cmd: c, workdir: [w], env: {API_TOKEN: [tok-123]}}\n"
        "  y: {cmd: c, trigger: sometimes}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_loopfile(path, env={})
    text = err.value.render()
    assert "tok-123" not in text
    caret = "      | " + " " * 23 + "^"  # column 24: where 'sometimes' starts
    assert "    6 |   y: {cmd: c, trigger: sometimes}\n" + caret in text
    assert text.count(" | ") == 2  # line 5 (holds a token) is not shown
    assert "expected a string, a number or true or false" in text


def test_build_secrets_ssh_custom_and_builder(tmp_path: Path) -> None:
    """Secret and ssh paths are made absolute against the loopfile; a custom image needs no
    Dockerfile."""
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "gen").mkdir()  # no Dockerfile: the custom command builds it
    (tmp_path / "loopfile.yaml").write_text(
        "version: v1\nname: demo\nbuild: {builder: buildkit}\n"
        "images:\n"
        "  api:\n"
        "    context: api\n"
        "    secrets: [{id: npmrc, src: secrets/npmrc}, {id: token, env: GH_TOKEN}]\n"
        "    ssh: [default, 'git=keys/id_ed25519,keys/other']\n"
        "  gen:\n"
        "    context: gen\n"
        "    custom: {cmd: 'make image', deps: ['src/**', Makefile]}\n"
        "deploy: {manifests: ['*.yaml']}\n"
    )
    model = load_loopfile(tmp_path / "loopfile.yaml", env={})
    api, gen = model.images["api"], model.images["gen"]
    assert model.build.builder == "buildkit"
    assert [s.cli_spec() for s in api.secrets] == [
        f"id=npmrc,src={tmp_path}/secrets/npmrc",
        "id=token,env=GH_TOKEN",
    ]
    assert api.ssh == ("default", f"git={tmp_path}/keys/id_ed25519,{tmp_path}/keys/other")
    assert api.custom is None and gen.custom is not None
    assert gen.custom.cmd == "make image" and gen.custom.deps == ("src/**", "Makefile")
    assert load_loopfile(VALID / "minimal.yaml", env={}).build.builder == "auto"
