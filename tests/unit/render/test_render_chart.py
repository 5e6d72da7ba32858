"""loopdev charts: context, filters, macros, values layering, and errors that point at lines."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from loopdev.errors import TemplateError
from loopdev.render import render_objects

from .conftest import ChartFactory, with_profiles

CM = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
{data}
"""


def cm(data: str, name: str = "cfg") -> str:
    return CM.format(name=name, data=data)


def data_of(objects: list[dict], name: str = "cfg") -> dict:
    return next(o for o in objects if o["metadata"]["name"] == name)["data"]


def test_context_offers_values_chart_release_profiles_images(chart: ChartFactory) -> None:
    config = chart(
        {
            "cm.yaml": cm(
                "  v: {{ values.greeting | quote }}\n"
                "  chart: {{ chart.name }}-{{ chart.version }}-{{ chart.appVersion }}\n"
                "  release: {{ release.name }}/{{ release.namespace }}\n"
                "  profiles: {{ profiles | join(',') | quote }}\n"
                "  image: {{ images.app }}\n"
            )
        },
        chart_values="greeting: hi\n",
        release="rel",
    )
    objects = render_objects(with_profiles(config, "dev"), {"app": "app:loopdev-1"})
    assert data_of(objects) == {
        "v": "hi",
        "chart": "demo-0.1.0-1.0",
        "release": "rel/demo-ns",
        "profiles": "dev",
        "image": "app:loopdev-1",
    }


def test_values_layer_in_documented_order(chart: ChartFactory, tmp_path) -> None:
    (tmp_path / "file.yaml").write_text("f: file\nv: file\no: file\n")
    (tmp_path / "cli.yaml").write_text("c: cli\nv: cli\n")
    config = chart(
        {"cm.yaml": cm("{{ values | toyaml | indent(2) }}")},
        chart_values="base: chart\nv: chart\nlist: [1, 2]\n",
        extra={
            "chart/values-dev.yaml": "d: dev\nv: dev\n",
            "chart/values-prod.yaml": "p: prod\nv: prod\nlist: [3]\n",
        },
        values={"l": "loopfile", "v": "loopfile", "o": "loopfile"},
        values_files=(tmp_path / "file.yaml",),
    )
    config = with_profiles(config, "dev", "prod")
    data = data_of(render_objects(config, {}, values_files=[tmp_path / "cli.yaml"]))
    assert data == {
        "base": "chart",
        "v": "cli",
        "list": [3],
        "d": "dev",
        "p": "prod",
        "l": "loopfile",
        "f": "file",
        "c": "cli",
        "o": "loopfile",  # values win over valuesFiles, as documented
    }
    data = data_of(render_objects(config, {}, set_values=["v=set", "list={9}"]))
    assert data["v"] == "set" and data["list"] == [9]


def test_profile_order_decides(chart: ChartFactory) -> None:
    config = chart(
        {"cm.yaml": cm("  v: {{ values.v }}")},
        chart_values="v: base\n",
        extra={"chart/values-a.yaml": "v: a\n", "chart/values-b.yaml": "v: b\n"},
    )
    assert data_of(render_objects(with_profiles(config, "a", "b"), {}))["v"] == "b"
    assert data_of(render_objects(with_profiles(config, "b", "a"), {}))["v"] == "a"
    assert data_of(render_objects(with_profiles(config, "nofile"), {}))["v"] == "base"


def test_filters(chart: ChartFactory) -> None:
    config = chart(
        {
            "cm.yaml": cm(
                "  q: {{ values.s | quote }}\n"
                "  sq: {{ values.s | squote }}\n"
                "  qb: {{ values.flag | quote }}\n"
                "  b64: {{ values.s | b64enc }}\n"
                "  back: {{ values.s | b64enc | b64dec | quote }}\n"
                "  sha: {{ values.s | sha256 }}\n"
                "  shamap: {{ values.m | sha256 }}\n"
                "  json: {{ values.m | tojson | squote }}\n"
                "  dflt: {{ values.missing | default('fallback') }}\n"
                "  req: {{ values.s | required('s is needed') | quote }}\n"
                "  short: {{ values.s | trunc(3) }}\n"
                "  yaml: |\n{{ values.m | toyaml | indent(4) }}\n"
                "  nested: {{ values.m | toyaml | nindent(4) | quote }}\n"
            )
        },
        chart_values='s: "it\'s \\"x\\""\nflag: true\nm: {b: 2, a: [1, "two"]}\n',
    )
    data = data_of(render_objects(config, {}))
    s = 'it\'s "x"'
    assert data["q"] == s and data["sq"] == s and data["back"] == s
    assert data["qb"] == "true"
    assert data["b64"] == base64.b64encode(s.encode()).decode()
    assert data["sha"] == hashlib.sha256(s.encode()).hexdigest()
    canonical = json.dumps({"a": [1, "two"], "b": 2}, sort_keys=True, separators=(",", ":"))
    assert data["shamap"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert json.loads(data["json"]) == {"b": 2, "a": [1, "two"]}
    assert data["dflt"] == "fallback"
    assert data["req"] == s
    assert data["short"] == "it'"
    assert data["yaml"] == "b: 2\na:\n- 1\n- two\n"
    assert data["nested"] == "\n    b: 2\n    a:\n    - 1\n    - two"


def test_macros_import_and_include_see_the_context(chart: ChartFactory) -> None:
    helpers = (
        "{% macro labels(component) -%}\n"
        "app: {{ chart.name }}-{{ release.name }}\n"
        "component: {{ component }}\n"
        "{%- endmacro %}\n"
    )
    tpl = (
        '{% import "_helpers.j2" as h %}\n'
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  labels:\n"
        '    {{- h.labels("web") | nindent(4) }}\n'
        "data:\n"
        '  sum: {{ include("labels", "web") | sha256 }}\n'
        '  inc: {{ include("_helpers.j2:labels", component="db") | quote }}\n'
    )
    objects = render_objects(chart({"cm.yaml": tpl, "_helpers.j2": helpers}), {})
    obj = objects[0]
    assert obj["metadata"]["labels"]["app"] == "demo-demo"
    assert obj["metadata"]["labels"]["component"] == "web"
    expected = hashlib.sha256(b"app: demo-demo\ncomponent: web").hexdigest()
    assert obj["data"]["sum"] == expected
    assert obj["data"]["inc"] == "app: demo-demo\ncomponent: db"


def test_include_of_unknown_macro_names_the_files(chart: ChartFactory) -> None:
    config = chart(
        {"cm.yaml": cm('  x: {{ include("nope") }}'), "_a.j2": "{% macro m() %}{% endmacro %}"}
    )
    with pytest.raises(TemplateError) as info:
        render_objects(config, {})
    assert "no macro named 'nope' in _a.j2" in info.value.message
    assert "chart/templates/cm.yaml:6" in info.value.message


def test_templates_render_in_path_order_and_helpers_are_skipped(chart: ChartFactory) -> None:
    config = chart(
        {
            "b.yaml": cm("  x: '1'", name="b"),
            "a.yaml": cm("  x: '1'", name="a"),
            "sub/c.yml": cm("  x: '1'", name="c"),
            "_skip.yaml": "not: rendered: at all",
            "NOTES.txt": "ignored",
        }
    )
    assert [o["metadata"]["name"] for o in render_objects(config, {})] == ["a", "b", "c"]


def test_empty_documents_and_conditionals_are_dropped(chart: ChartFactory) -> None:
    tpl = "{% if values.enabled %}\n" + cm("  x: '1'") + "{% endif %}\n---\n# only a comment\n---\n"
    assert render_objects(chart({"cm.yaml": tpl}, chart_values="enabled: false\n"), {}) == []
    assert len(render_objects(chart({"cm.yaml": tpl}, chart_values="enabled: true\n"), {})) == 1


def test_undefined_value_names_file_line_and_name(chart: ChartFactory) -> None:
    tpl = cm("  a: '1'\n  b: {{ values.replicaz }}")
    with pytest.raises(TemplateError) as info:
        render_objects(chart({"deploy.yaml": tpl}, chart_values="replicas: 1\n"), {})
    err = info.value
    assert err.exit_code == 2
    assert err.message.startswith("chart/templates/deploy.yaml:7: undefined value: values.replicaz")
    assert "b: {{ values.replicaz }}" in err.message
    assert err.hint and "default" in err.hint


def test_undefined_top_level_name(chart: ChartFactory) -> None:
    with pytest.raises(TemplateError) as info:
        render_objects(chart({"t.yaml": cm("  a: {{ valuez.x }}")}), {})
    assert "chart/templates/t.yaml:6" in info.value.message
    assert "'valuez' is undefined" in info.value.message


def test_undefined_inside_a_macro_points_into_the_macro_file(chart: ChartFactory) -> None:
    helpers = "{% macro m() -%}\nx: 1\ny: {{ values.nope }}\n{%- endmacro %}\n"
    tpl = '{% import "_h.j2" as h %}\n' + cm("  {{- h.m() | nindent(2) }}")
    with pytest.raises(TemplateError) as info:
        render_objects(chart({"t.yaml": tpl, "_h.j2": helpers}), {})
    assert info.value.message.startswith("chart/templates/_h.j2:3: undefined value:")
    assert "nope" in info.value.message


def test_syntax_error_names_file_and_line(chart: ChartFactory) -> None:
    with pytest.raises(TemplateError) as info:
        render_objects(chart({"t.yaml": cm("  a: '1'\n  b: {{ values.x }")}), {})
    assert info.value.message.startswith("chart/templates/t.yaml:7: template syntax error")


def test_missing_import_is_reported(chart: ChartFactory) -> None:
    with pytest.raises(TemplateError) as info:
        render_objects(chart({"t.yaml": '{% import "_nope.j2" as h %}\n' + cm("  a: '1'")}), {})
    assert "chart/templates/t.yaml:1: template not found: _nope.j2" in info.value.message


def test_required_stops_with_the_authors_message(chart: ChartFactory) -> None:
    tpl = cm("  a: {{ values.token | required('set values.token to your API token') }}")
    with pytest.raises(TemplateError) as info:
        render_objects(chart({"t.yaml": tpl}), {})
    assert "chart/templates/t.yaml:6: set values.token to your API token" in info.value.message
    tpl = cm("  a: {{ required(values.empty, 'empty is required') }}")
    with pytest.raises(TemplateError, match="empty is required"):
        render_objects(chart({"t.yaml": tpl}, chart_values="empty: ''\n"), {})


@pytest.mark.parametrize(
    "expr",
    [
        "''.__class__",
        "''.__class__.__mro__[1].__subclasses__()",
        "values.__class__.__init__.__globals__",
        "cycler.__init__.__globals__.os",
        "range.__self__",
        "(values.items | attr('__self__'))",
        "chart.update({'x': 1})",
    ],
)
def test_sandbox_escapes_fail_safely(chart: ChartFactory, expr: str) -> None:
    config = chart({"t.yaml": cm("  a: {{ " + expr + " }}")})
    with pytest.raises(TemplateError) as info:
        render_objects(config, {})
    assert info.value.exit_code == 2
    assert info.value.message.startswith("chart/templates/t.yaml:6: ")
    assert "sandbox" in info.value.message or "undefined" in info.value.message


def test_rendered_invalid_yaml_names_template_and_rendered_line(chart: ChartFactory) -> None:
    tpl = "# comment line\n" + cm("  a: 1\n {{ values.bad }}")
    with pytest.raises(TemplateError) as info:
        render_objects(chart({"bad.yaml": tpl}, chart_values="bad: 'x: y'\n"), {})
    msg = info.value.message
    assert msg.startswith("chart/templates/bad.yaml:8: invalid YAML")
    assert "(rendered line 8)" in msg
    assert "8 |  {{ values.bad }}" in msg and "rendered 8 |  x: y" in msg


def test_invalid_yaml_after_a_multiline_expansion_names_the_template_line(
    chart: ChartFactory,
) -> None:
    """Six lines of toYaml output come before the mistake: rendered line 13 is template line 8."""
    tpl = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  labels:\n"
        "    {{- values.labels | toYaml | nindent(4) }}\n"
        "data:\n"
        "  a: 1\n b: 2\n"
    )
    labels = "labels: {a: '1', b: '2', c: '3', d: '4', e: '5', f: '6'}\n"
    with pytest.raises(TemplateError) as info:
        render_objects(chart({"bad.yaml": tpl}, chart_values=labels), {})
    msg = info.value.message
    assert msg.startswith("chart/templates/bad.yaml:9: invalid YAML"), msg
    assert "(rendered line 14)" in msg and "\n  9 |  b: 2" in msg
    assert "rendered 14 |" not in msg  # the template line is the rendered line: shown once


def test_invalid_yaml_from_an_expression_names_the_expression_line(chart: ChartFactory) -> None:
    tpl = cm("  a: 1\n  b: {{ values.block | indent(2) }}\n  c: 3")
    with pytest.raises(TemplateError) as info:
        render_objects(chart({"t.yaml": tpl}, chart_values='block: "x\\n\\n y: ["\n'), {})
    msg = info.value.message
    assert msg.startswith("chart/templates/t.yaml:7: "), msg
    assert "7 |   b: {{ values.block | indent(2) }}" in msg


def test_invalid_yaml_on_a_line_ending_in_an_expression_names_that_line(
    chart: ChartFactory,
) -> None:
    tpl = "# header\n" + cm("  a: '1'\n  b: x: {{ values.v }}\n  c: '3'")
    with pytest.raises(TemplateError) as info:
        render_objects(chart({"t.yaml": tpl}, chart_values="v: 1\n"), {})
    assert info.value.message.startswith("chart/templates/t.yaml:8: "), info.value.message


def test_invalid_yaml_in_a_secret_does_not_echo_the_line(chart: ChartFactory) -> None:
    tpl = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
        "stringData:\n  pw: 1\n {{ values.pw }}\n"
    )
    with pytest.raises(TemplateError) as info:
        render_objects(chart({"s.yaml": tpl}, chart_values="pw: 'hunter2: x'\n"), {})
    assert info.value.message.startswith("chart/templates/s.yaml:7: invalid YAML")
    assert "hunter2" not in info.value.render()
    assert "values.pw" not in info.value.render()  # no line of a Secret is echoed


@pytest.mark.parametrize(
    ("doc", "missing"),
    [
        ("kind: ConfigMap\nmetadata: {name: a}\n", "apiVersion"),
        ("apiVersion: v1\nmetadata: {name: a}\n", "kind"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "metadata.name"),
        ("apiVersion: v1\nkind: ConfigMap\n", "metadata.name"),
    ],
)
def test_documents_missing_identity_are_errors(chart: ChartFactory, doc: str, missing: str) -> None:
    tpl = cm("  a: '1'", name="ok") + "---\n" + doc
    with pytest.raises(TemplateError) as info:
        render_objects(chart({"t.yaml": tpl}), {})
    assert info.value.message.startswith("chart/templates/t.yaml:8: the document starting here")
    assert info.value.message.endswith(f"has no {missing} (rendered line 8)")


def test_a_scalar_document_is_an_error(chart: ChartFactory) -> None:
    with pytest.raises(TemplateError, match="is a str, not a Kubernetes object"):
        render_objects(chart({"t.yaml": "just text\n"}), {})


def test_chart_without_name_is_a_config_error(chart: ChartFactory, tmp_path) -> None:
    config = chart({"t.yaml": cm("  a: '1'")})
    (tmp_path / "chart" / "Chart.yaml").write_text("version: 1\n")
    with pytest.raises(Exception, match="'name' is required"):
        render_objects(config, {})


def test_tpl_renders_a_value_as_a_template(chart: ChartFactory) -> None:
    config = chart(
        {"cm.yaml": cm("  a: {{ values.host | tpl | quote }}\n  b: {{ tpl('{{ chart.name }}') }}")},
        chart_values="host: '{{ release.name }}.{{ release.namespace }}.svc'\n",
    )
    assert data_of(render_objects(config, {})) == {"a": "demo.demo-ns.svc", "b": "demo"}
    broken = chart(
        {"cm.yaml": cm("  a: {{ values.host | tpl }}")}, chart_values="host: '{{ nope.x }}'\n"
    )
    with pytest.raises(TemplateError) as info:
        render_objects(broken, {})
    assert "'nope' is undefined" in info.value.message
