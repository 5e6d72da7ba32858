"""Files a render reads never come through a link that leaves the chart or project.

A repository is input loopdev did not write: a template, values file or manifest linked to
``/etc/passwd`` (here: a "secret" file beside the project) must be refused, not rendered.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from loopdev.cli import main_group
from loopdev.config.model import Deploy
from loopdev.render import render_objects
from loopdev.render.confine import OutsideError, reference_base

from .conftest import ChartFactory, make_config, with_profiles, write_files

SECRET = "root:x:0:0:SECRET-LINE\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file outside every project a test makes under its tmp_path."""
    path = tmp_path_factory.mktemp("elsewhere") / "passwd"
    path.write_text(SECRET)
    return path


def test_a_macro_file_linked_outside_the_chart_is_refused(
    tmp_path: Path, outside: Path, chart: ChartFactory
) -> None:
    config = chart({"cm.yaml": CM + "data:\n  pw: |\n    {% include '_pw.j2' %}\n"})
    (tmp_path / "chart/templates/_pw.j2").symlink_to(outside)
    with pytest.raises(OutsideError) as err:
        render_objects(config, {})
    text = err.value.render()
    assert text.startswith("chart/templates/_pw.j2: the template resolves to ")
    assert str(outside) in text and "SECRET" not in text and err.value.exit_code == 2


def test_a_template_linked_outside_the_chart_is_refused(
    tmp_path: Path, outside: Path, chart: ChartFactory
) -> None:
    config = chart({"_keep.j2": ""})
    outside.write_text(CM)
    (tmp_path / "chart/templates/cm.yaml").symlink_to(outside)
    with pytest.raises(OutsideError, match="chart/templates/cm.yaml: the template"):
        render_objects(config, {})


@pytest.mark.parametrize("name", ["values.yaml", "values-dev.yaml", "Chart.yaml"])
def test_chart_files_linked_outside_the_chart_are_refused(
    tmp_path: Path, outside: Path, chart: ChartFactory, name: str
) -> None:
    config = with_profiles(chart({"cm.yaml": CM}), "dev")
    outside.write_text("name: x\nleak: true\n")
    target = tmp_path / "chart" / name
    target.unlink(missing_ok=True)
    target.symlink_to(outside)
    with pytest.raises(OutsideError, match=f"chart/{name}: .* resolves to {outside}"):
        render_objects(config, {})


def test_links_inside_the_chart_are_fine(tmp_path: Path, chart: ChartFactory) -> None:
    config = chart(
        {"cm.yaml": CM + "data:\n  a: {{ include('_m.j2:a') }}\n"},
        extra={"chart/shared/m.j2": "{% macro a() %}from-shared{% endmacro %}\n"},
    )
    (tmp_path / "chart/templates/_m.j2").symlink_to(tmp_path / "chart/shared/m.j2")
    assert render_objects(config, {})[0]["data"] == {"a": "from-shared"}


@pytest.mark.parametrize("glob", ["k8s/*.yaml", "k8s"])
def test_a_manifest_linked_outside_the_project_is_refused(
    tmp_path: Path, outside: Path, glob: str
) -> None:
    root = tmp_path / "project"
    write_files(root, {"k8s/a.yaml": CM})
    (root / "k8s/pw.yaml").symlink_to(outside)
    config = make_config(root, Deploy(kind="manifests", manifests=(glob,)))
    with pytest.raises(OutsideError, match="k8s/pw.yaml: the manifest resolves to"):
        render_objects(config, {})


def test_a_manifest_directory_linked_outside_the_project_is_refused(
    tmp_path: Path, outside: Path
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    outside.with_name("pw.yaml").write_text(CM)
    (root / "k8s").symlink_to(outside.parent)
    config = make_config(root, Deploy(kind="manifests", manifests=("k8s/*.yaml",)))
    with pytest.raises(OutsideError, match="the manifest resolves to"):
        render_objects(config, {})


def test_a_path_written_to_leave_the_project_is_the_users_choice(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    write_files(tmp_path, {"shared/cm.yaml": CM})
    config = make_config(root, Deploy(kind="manifests", manifests=("../shared/*.yaml",)))
    assert [o["metadata"]["name"] for o in render_objects(config, {})] == ["cm"]
    assert reference_base(root, "../shared/*.yaml") == tmp_path / "shared"
    assert reference_base(root, "k8s/../../x/a.yaml") == tmp_path / "x"
    assert reference_base(root, "k8s/*.yaml") == root


def test_a_loopfile_values_file_linked_outside_is_refused(
    tmp_path: Path, outside: Path, chart: ChartFactory
) -> None:
    config = chart({"cm.yaml": CM}, values_files=(tmp_path / "dev-values.yaml",))
    (tmp_path / "dev-values.yaml").symlink_to(outside)
    with pytest.raises(OutsideError, match="deploy.valuesFiles entry resolves to"):
        render_objects(config, {})


def test_a_chart_directory_linked_outside_the_project_is_refused(
    tmp_path: Path, outside: Path
) -> None:
    root = tmp_path / "project"
    write_files(outside.parent, {"chart/Chart.yaml": "name: x\n"})
    root.mkdir()
    (root / "chart").symlink_to(outside.parent / "chart")
    config = make_config(root, Deploy(kind="chart", source=root / "chart"))
    with pytest.raises(OutsideError, match="the deploy.chart directory resolves to"):
        render_objects(config, {})


def test_render_command_exits_2_and_prints_nothing_of_the_file(
    tmp_path: Path, outside: Path
) -> None:
    root = tmp_path / "project"
    write_files(
        root,
        {
            "loopfile.yaml": "version: v1\nname: p\ndeploy: {chart: chart}\n",
            "chart/Chart.yaml": "name: p\n",
            "chart/templates/cm.yaml": CM + "data:\n  pw: |\n    {% include '_pw.j2' %}\n",
        },
    )
    (root / "chart/templates/_pw.j2").symlink_to(outside)
    result = CliRunner().invoke(main_group, ["-f", str(root / "loopfile.yaml"), "render"])
    assert result.exit_code == 2, result.output
    assert "_pw.j2: the template resolves to" in result.output
    assert "SECRET" not in result.output and "Traceback" not in result.output


def test_a_helm_profile_values_file_linked_outside_is_refused(
    tmp_path: Path, outside: Path
) -> None:
    write_files(tmp_path, {"helm/Chart.yaml": "name: h\n"})
    (tmp_path / "helm/values-dev.yaml").symlink_to(outside)
    config = make_config(tmp_path, Deploy(kind="helm", source=tmp_path / "helm"))
    with pytest.raises(OutsideError, match="values-dev.yaml: the chart's values file"):
        render_objects(with_profiles(config, "dev"), {})
