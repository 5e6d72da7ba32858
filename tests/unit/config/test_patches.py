"""JSON-patch profiles: applied after the overlay, in order, with located problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopdev.config.load import resolve_loopfile
from loopdev.errors import ConfigError

BASE = """\
version: v1
name: demo
images:
  web:
    context: app
deploy:
  chart: chart
  values: {replicas: 1, resources: {cpu: 1}}
resources:
  web:
    workload: deployment/web
    portForwards: ["8080:80"]
profiles:
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "chart").mkdir()
    (tmp_path / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    return tmp_path


def _load(project: Path, profiles_yaml: str, active: tuple[str, ...]) -> dict:
    path = project / "loopfile.yaml"
    path.write_text(BASE + profiles_yaml)
    return resolve_loopfile(path, active, env={}).effective


def test_patches_append_replace_remove_after_the_overlay(project: Path) -> None:
    effective = _load(
        project,
        """\
  dev:
    deploy: {values: {replicas: 2}}
    patches:
      - {op: add, path: /resources/web/portForwards/-, value: "9090:90"}
      - {op: test, path: /deploy/values/replicas, value: 2}
      - {op: remove, path: /deploy/values/resources}
      - {op: add, path: /images/web/target, value: dev}
      - {op: copy, from: /images/web, path: /images/api}
""",
        ("dev",),
    )
    assert effective["resources"]["web"]["portForwards"] == ["8080:80", "9090:90"]
    assert effective["deploy"]["values"] == {"replicas": 2}
    assert effective["images"]["web"] == {"context": "app", "target": "dev"}
    assert effective["images"]["api"] == effective["images"]["web"]


def test_later_profile_patches_see_earlier_ones(project: Path) -> None:
    effective = _load(
        project,
        """\
  a:
    patches: [{op: add, path: /deploy/values/extra, value: {x: 1}}]
  b:
    patches: [{op: replace, path: /deploy/values/extra/x, value: 2}]
""",
        ("a", "b"),
    )
    assert effective["deploy"]["values"]["extra"] == {"x": 2}


def test_inactive_profile_patches_do_nothing(project: Path) -> None:
    effective = _load(project, "  a:\n    patches: [{op: remove, path: /resources/web}]\n", ())
    assert "web" in effective["resources"]


@pytest.mark.parametrize(
    ("patch", "anchor", "key", "fragment"),
    [
        (
            "{op: replace, path: /images/nope/target, value: x}",
            "/images/nope",
            "profiles.p.patches[0].path",
            "/images has no 'nope' (it has 'web')",
        ),
        (
            "{op: add, path: /resources/web/portForwards/5, value: x}",
            "/resources",
            "profiles.p.patches[0].path",
            "is a list of 1 (index '5')",
        ),
        (
            "{op: test, path: /deploy/values/replicas, value: 3}",
            "/deploy",
            "profiles.p.patches[0].path",
            "failed: the value there differs",
        ),
        (
            "{op: move, from: /deploy/nope, path: /deploy/z}",
            "/deploy/nope",
            "profiles.p.patches[0].from",
            "from '/deploy/nope' does not exist",
        ),
        (
            "{op: add, path: /deploy/x}",
            "/deploy",
            "profiles.p.patches[0].path",
            "add needs a value",
        ),
        ("{op: remove, path: /version}", "/version", "profiles.p.patches[0].path", "may not be"),
        (
            "{op: add, path: /resources/web/trigger, value: later}",
            "later",
            "resources.web.trigger",
            "'later' is not allowed",
        ),
    ],
)
def test_bad_patches_are_located(
    project: Path, patch: str, anchor: str, key: str, fragment: str
) -> None:
    """Each problem names the operation's line, and the column of what is wrong in it."""
    line = f"      - {patch}"
    with pytest.raises(ConfigError) as err:
        _load(project, f"  p:\n    patches:\n{line}\n", ("p",))
    problems = err.value.problems
    assert len(problems) == 1, problems
    problem = problems[0]
    assert (problem.line, problem.col, problem.path) == (16, line.index(anchor) + 1, key)
    assert fragment in problem.message


def test_failure_messages_never_print_values(project: Path) -> None:
    """jsonpatch's own errors print the document; a Secret's value could be in it."""
    with pytest.raises(ConfigError) as err:
        _load(
            project,
            """\
  p:
    deploy: {values: {password: hunter2}}
    patches: [{op: replace, path: /deploy/values/nope, value: x}]
""",
            ("p",),
        )
    assert "hunter2" not in str(err.value)
    assert "has no 'nope' (it has 'password', 'replicas', 'resources')" in str(err.value)
