"""Profile activation, ordering, deep merge and line tracking through the merge."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopdev.config.load import load_loopfile
from loopdev.config.profiles import merge, rule_matches, select_profiles
from loopdev.errors import ConfigError, UsageError


def test_rules_env_equals_matches_set_context_and_command() -> None:
    env = {"A": "1", "B": "feature-x", "E": ""}
    assert rule_matches({"env": "A", "equals": "1"}, env, None, None)
    assert not rule_matches({"env": "A", "equals": "2"}, env, None, None)
    assert rule_matches({"env": "B", "matches": "^feat"}, env, None, None)
    assert not rule_matches({"env": "B", "matches": "^fix"}, env, None, None)
    assert rule_matches({"env": "A"}, env, None, None)
    assert not rule_matches({"env": "E"}, env, None, None)  # set but empty
    assert not rule_matches({"env": "MISSING"}, env, None, None)
    assert rule_matches({"kubeContext": "kind-*"}, env, "kind-dev", None)
    assert not rule_matches({"kubeContext": "kind-*"}, env, "prod", None)
    assert not rule_matches({"kubeContext": "kind-*"}, env, None, None)
    assert rule_matches({"command": "ci"}, env, None, "ci")
    assert not rule_matches({"command": "ci"}, env, None, "up")


def test_auto_activated_first_in_file_order_then_requested_once() -> None:
    defined = {
        "a": {},
        "b": {"activation": [{"env": "X"}, {"command": "up"}]},
        "c": {"activation": [{"env": "X"}]},
    }
    active = select_profiles(defined, ["a", "c"], {"X": "1"}, None, None)
    assert active == ("b", "c", "a")
    assert select_profiles(defined, [], {}, None, "up") == ("b",)


def test_unknown_requested_profile_is_a_usage_error_listing_valid_names() -> None:
    with pytest.raises(UsageError) as err:
        select_profiles({"dev": {}, "prod": {}}, ["staging"], {}, None, None)
    assert "'staging'" in err.value.message and "'dev' or 'prod'" in err.value.message
    assert err.value.exit_code == 2


def test_merge_maps_deeply_lists_and_scalars_replace() -> None:
    base = {"deploy": {"chart": "c", "values": {"a": {"x": 1, "y": 2}, "l": [1, 2]}}}
    over = {"deploy": {"values": {"a": {"y": 3}, "l": [9]}}}
    assert merge(base, over, ()) == {
        "deploy": {"chart": "c", "values": {"a": {"x": 1, "y": 3}, "l": [9]}}
    }
    assert base["deploy"]["values"]["a"]["y"] == 2  # inputs untouched


def test_merge_switching_exclusive_keys_replaces_the_others() -> None:
    base = {"deploy": {"chart": "c", "values": {}}, "local": {"x": {"cmd": "a"}}}
    over = {"deploy": {"kustomize": "k"}, "local": {"x": {"serve": "b"}}}
    merged = merge(base, over, ())
    assert merged["deploy"] == {"kustomize": "k", "values": {}}
    assert merged["local"]["x"] == {"serve": "b"}


def _project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "chart").mkdir()
    (tmp_path / "kust").mkdir()
    path = tmp_path / "loopfile.yaml"
    path.write_text(text)
    return path


DOC = """\
version: v1
name: demo
images:
  api:
    context: app
    buildArgs: {BASE: a, KEEP: k}
deploy:
  chart: chart
  values: {replicas: 1, tags: [a, b]}
profiles:
  offline:
    activation: [{env: OFFLINE, equals: "1"}]
    images: {api: {buildArgs: {BASE: local}}}
  big:
    deploy: {values: {replicas: 3, tags: [c]}}
  kust:
    deploy: {kustomize: kust}
  broken:
    images:
      api:
        live:
          sync: [{src: src/, dest: /app/}]
    namespace: ok
    resources:
      web:
        dependsOn: [nowhere]
"""


def test_profiles_applied_in_order_to_the_model(tmp_path: Path) -> None:
    path = _project(tmp_path, DOC)
    model = load_loopfile(path, ["big"], env={"OFFLINE": "1"})
    assert model.active_profiles == ("offline", "big")
    assert model.profiles == ("offline", "big", "kust", "broken")
    assert model.images["api"].build_args == {"BASE": "local", "KEEP": "k"}
    assert model.deploy.values == {"replicas": 3, "tags": ["c"]}
    plain = load_loopfile(path, env={})
    assert plain.active_profiles == () and plain.deploy.values["replicas"] == 1


def test_profile_can_switch_deploy_source(tmp_path: Path) -> None:
    model = load_loopfile(_project(tmp_path, DOC), ["kust"], env={})
    assert model.deploy.kind == "kustomize" and model.deploy.source == tmp_path / "kust"


def test_problem_after_merge_points_at_the_profile_line(tmp_path: Path) -> None:
    path = _project(tmp_path, DOC)
    with pytest.raises(ConfigError) as err:
        load_loopfile(path, ["broken"], env={})
    (problem,) = err.value.problems
    assert (problem.line, problem.col) == (26, 21)  # inside the profile
    assert problem.path == "resources.web.dependsOn[0]"
    assert "unknown name 'nowhere'" in problem.message


def test_profile_adding_an_incomplete_local_command_is_caught_at_its_line(tmp_path: Path) -> None:
    path = _project(
        tmp_path,
        "version: v1\nname: d\ndeploy: {chart: chart}\nprofiles:\n"
        "  extra:\n    local:\n      watcher:\n        deps: ['*.py']\n",
    )
    load_loopfile(path, env={})  # inactive: fine
    with pytest.raises(ConfigError) as err:
        load_loopfile(path, ["extra"], env={})
    (problem,) = err.value.problems
    assert (problem.line, problem.path) == (8, "local.watcher")
    assert "needs one of 'cmd' or 'serve'" in problem.message


def test_profile_naming_two_deploy_sources_is_caught(tmp_path: Path) -> None:
    path = _project(
        tmp_path,
        "version: v1\nname: d\ndeploy: {chart: chart}\nprofiles:\n"
        "  both:\n    deploy: {kustomize: kust, manifests: [a.yaml]}\n",
    )
    with pytest.raises(ConfigError) as err:
        load_loopfile(path, ["both"], env={})
    (problem,) = err.value.problems
    assert (problem.line, problem.path) == (6, "deploy.kustomize")
    assert "'manifests' and 'kustomize' cannot be used together" in problem.message
