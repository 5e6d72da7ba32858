"""Several Helm releases per loopfile, per-release values and flags, and image keys, through
the loader and a real ``helm template``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from loopdev.config.load import load_loopfile
from loopdev.config.model import ImageKey
from loopdev.config.namespaces import deploy_namespaces, used_namespaces
from loopdev.errors import ConfigError
from loopdev.render import render_objects
from loopdev.render.helm import image_key_values, split_reference

from .conftest import write_files

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: {name}\nversion: 0.1.0\n",
    "values.yaml": "replicas: 1\nimage: {{repository: nginx, tag: '1.0'}}\nwho: chart\n",
    "templates/app.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{{{ .Release.Name }}}}
          labels:
            who: {{{{ .Values.who | quote }}}}
            shared: {{{{ .Values.shared | default "-" | quote }}}}
        spec:
          replicas: {{{{ .Values.replicas }}}}
          selector: {{matchLabels: {{app: {{{{ .Release.Name }}}}}}}}
          template:
            metadata: {{labels: {{app: {{{{ .Release.Name }}}}}}}}
            spec:
              containers:
                - name: app
                  image: "{{{{ .Values.image.repository }}}}:{{{{ .Values.image.tag }}}}"
                  env: [{{name: WHOLE, value: {{{{ .Values.whole | default "-" | quote }}}}}}]
        """,
}


def write_chart(root: Path, name: str) -> None:
    write_files(root, {f"charts/{name}/{k}": v.format(name=name) for k, v in CHART.items()})


def write_loopfile(root: Path, deploy: str) -> Path:
    (root / "Dockerfile").write_text("FROM scratch\n")
    path = root / "loopfile.yaml"
    head = "version: v1\nname: shop\nnamespace: shop\n"
    head += "images:\n  api-server: {context: .}\n  worker: {context: .}\ndeploy:\n"
    path.write_text(head + textwrap.indent(textwrap.dedent(deploy), "  "))
    return path


def by_name(objects: list[dict]) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}


def test_releases_render_in_order_with_their_own_values_flags_and_image_keys(
    tmp_path: Path, helm_on_path: Path
) -> None:
    write_chart(tmp_path, "api")
    write_chart(tmp_path, "worker")
    (tmp_path / "api-local.yaml").write_text("replicas: 3\n")
    path = write_loopfile(
        tmp_path,
        """\
        values: {shared: yes-all, who: loopfile}
        helm:
          - chart: charts/api
            release: api
            values: {who: api-release}
            valuesFiles: [api-local.yaml]
            imageKeys:
              - {image: api-server, repository: image.repository, tag: image.tag}
              - {image: api-server, key: whole}
          - chart: charts/worker
            flags: [--set, replicas=2]
            imageKeys: {worker: whole}
        """,
    )
    config = load_loopfile(path)
    refs = {"api-server": "localhost:5000/api-server:loopdev-abc", "worker": "worker:loopdev-def"}
    deployments = by_name(render_objects(config, refs))
    assert list(deployments) == ["api", "worker"]  # the second release is named after its chart
    api, worker = deployments["api"], deployments["worker"]
    assert api["metadata"]["labels"]["who"] == "api-release"
    assert api["metadata"]["labels"]["shared"] == "yes-all"
    assert worker["metadata"]["labels"]["who"] == "loopfile"
    assert api["spec"]["replicas"] == 3  # the release's own values file
    assert worker["spec"]["replicas"] == 2  # its extra helm flag
    api_container = api["spec"]["template"]["spec"]["containers"][0]
    assert api_container["image"] == "localhost:5000/api-server:loopdev-abc"
    assert api_container["env"] == [{"name": "WHOLE", "value": refs["api-server"]}]
    worker_container = worker["spec"]["template"]["spec"]["containers"][0]
    assert worker_container["env"] == [{"name": "WHOLE", "value": refs["worker"]}]
    assert worker_container["image"] == "nginx:1.0"  # no repository/tag keys for it


def test_set_wins_over_image_keys(tmp_path: Path, helm_on_path: Path) -> None:
    write_chart(tmp_path, "api")
    path = write_loopfile(
        tmp_path,
        """\
        helm:
          chart: charts/api
          imageKeys: [{image: api-server, repository: image.repository, tag: image.tag}]
        """,
    )
    objects = render_objects(
        load_loopfile(path),
        {"api-server": "api-server:loopdev-1"},
        set_values=["image.repository=mirror/api"],
    )
    image = by_name(objects)["shop"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "mirror/api:loopdev-1"


@pytest.mark.parametrize(
    ("deploy", "fragment"),
    [
        (
            "helm: [{chart: charts/api}, {chart: charts/api, release: shop}]",
            "deploy.helm[1].release: release 'shop' is rendered twice",
        ),
        (
            "helm: {chart: charts/api, imageKeys: [{image: nope, key: image}]}",
            "deploy.helm.imageKeys[0].image: image 'nope' is not in images",
        ),
        (
            "helm: {chart: charts/api, imageKeys: {nope: image}}",
            "deploy.helm.imageKeys.nope: image 'nope' is not in images",
        ),
        (
            "helm: {chart: charts/api, imageKeys: [{image: worker}]}",
            "deploy.helm.imageKeys[0]: needs one of 'key' or 'repository', found none",
        ),
        (
            "helm: {chart: charts/api, imageKeys: [{image: worker, key: a, repository: b, tag: c}]}",  # noqa: E501
            "'key' and 'repository' cannot be used together",
        ),
        (
            "helm: {chart: charts/api, imageKeys: [{image: worker, repository: image.repo}]}",
            "deploy.helm.imageKeys[0]",
        ),
        (
            "helm: [{chart: charts/api, flags: [--namespace=other]}]",
            "deploy.helm[0].flags[0]: '--namespace=other' cannot be used",
        ),
        (
            "helm: [{chart: charts/api}, {chart: charts/nope}]",
            "deploy.helm[1].chart: 'charts/nope' does not exist",
        ),
    ],
)
def test_bad_helm_releases_are_located(tmp_path: Path, deploy: str, fragment: str) -> None:
    write_chart(tmp_path, "api")
    with pytest.raises(ConfigError) as err:
        load_loopfile(write_loopfile(tmp_path, deploy))
    assert fragment in str(err.value)
    assert "loopfile.yaml:" in str(err.value)


@pytest.mark.parametrize(
    ("ref", "repository", "tag"),
    [
        ("api:loopdev-1", "api", "loopdev-1"),
        ("localhost:5000/team/api:v2", "localhost:5000/team/api", "v2"),
        ("localhost:5000/api", "localhost:5000/api", "latest"),
        ("reg/api:v1@sha256:abc", "reg/api", "v1@sha256:abc"),
    ],
)
def test_split_reference(ref: str, repository: str, tag: str) -> None:
    assert split_reference(ref) == (repository, tag)


def test_image_key_values_nest_dotted_keys() -> None:
    keys = (ImageKey("a", repository="x.image.repo", tag="x.image.tag"), ImageKey("b", key="y"))
    values = image_key_values(keys, {"a": "a:1", "b": "b:2"})
    assert values == {"x": {"image": {"repo": "a", "tag": "1"}}, "y": "b:2"}


NS_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: {name}\nversion: 0.1.0\n",
    "templates/objects.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {name}-config
        data: {{rendered-in: {{{{ .Release.Namespace | quote }}}}}}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {name}-pinned
          namespace: pinned
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata:
          name: {name}-reader
        rules: []
        """,
}


def test_a_release_renders_into_its_own_namespace(tmp_path: Path, helm_on_path: Path) -> None:
    for name in ("api", "cache"):
        write_files(
            tmp_path, {f"charts/{name}/{k}": v.format(name=name) for k, v in NS_CHART.items()}
        )
    path = write_loopfile(
        tmp_path,
        """\
        helm:
          - chart: charts/api
          - {chart: charts/cache, namespace: shared-cache}
        """,
    )
    config = load_loopfile(path)
    assert [r.namespace for r in config.deploy.helm] == [None, "shared-cache"]
    assert used_namespaces(config) == ("shop", "shared-cache")
    objects = {o["metadata"]["name"]: o for o in render_objects(config, {})}
    assert objects["api-config"]["metadata"]["namespace"] == "shop"
    assert objects["api-config"]["data"] == {"rendered-in": "shop"}
    assert objects["cache-config"]["metadata"]["namespace"] == "shared-cache"
    assert objects["cache-config"]["data"] == {"rendered-in": "shared-cache"}  # --namespace
    assert objects["cache-pinned"]["metadata"]["namespace"] == "pinned"  # the chart's own wins
    assert "namespace" not in objects["cache-reader"]["metadata"]  # cluster-scoped
    rendered = list(objects.values())
    assert deploy_namespaces(config, rendered) == ("shop", "shared-cache", "pinned")
    assert deploy_namespaces(config, rendered, seen=("gone",)) == (
        "shop",
        "shared-cache",
        "gone",  # applied into earlier this session: still pruned there
        "pinned",
    )


def test_the_project_namespace_comes_first_and_each_namespace_once(tmp_path: Path) -> None:
    write_chart(tmp_path, "api")
    write_chart(tmp_path, "worker")
    path = write_loopfile(
        tmp_path,
        """\
        helm:
          - {chart: charts/api, namespace: other}
          - {chart: charts/worker, namespace: shop}
          - {chart: charts/api, release: api-two, namespace: other}
        """,
    )
    assert used_namespaces(load_loopfile(path)) == ("shop", "other")


def test_a_release_namespace_must_be_a_dns_label(tmp_path: Path) -> None:
    write_chart(tmp_path, "api")
    path = write_loopfile(tmp_path, "helm: [{chart: charts/api, namespace: Not_A_Label}]\n")
    with pytest.raises(ConfigError) as err:
        load_loopfile(path)
    assert "loopfile.yaml:" in str(err.value)
    assert "deploy.helm[0].namespace" in str(err.value)


def test_one_workload_name_in_two_release_namespaces_is_a_config_error(
    tmp_path: Path, helm_on_path: Path
) -> None:
    for name in ("a", "b"):
        write_files(
            tmp_path,
            {
                f"charts/{name}/Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n",
                f"charts/{name}/values.yaml": CHART["values.yaml"].format(name=name),
                f"charts/{name}/templates/app.yaml": CHART["templates/app.yaml"]
                .format(name=name)
                .replace("{{ .Release.Name }}", "web"),
            },
        )
    path = write_loopfile(
        tmp_path,
        """\
        helm:
          - chart: charts/a
          - {chart: charts/b, namespace: other}
        """,
    )
    with pytest.raises(ConfigError) as err:
        render_objects(load_loopfile(path), {})
    assert "workload deployment/web is rendered in namespaces shop and other" in str(err.value)
    assert "loopfile.yaml" in str(err.value)


def test_every_release_chart_must_stay_in_the_project(tmp_path: Path, helm_on_path: Path) -> None:
    """Not only the first release: a later one's chart linked outside is refused too."""
    from loopdev.render.confine import OutsideError

    project = tmp_path / "project"
    write_chart(project, "api")
    write_chart(tmp_path / "elsewhere", "worker")
    (project / "charts" / "worker").symlink_to(tmp_path / "elsewhere" / "charts" / "worker")
    path = write_loopfile(project, "helm: [{chart: charts/api}, {chart: charts/worker}]\n")
    with pytest.raises(OutsideError, match="the deploy.helm directory resolves to"):
        render_objects(load_loopfile(path), {})
