"""`loopdev init` names each image after the reference the manifests or charts use, so the
built image is injected; what cannot be paired is reported, never guessed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from loopdev.cli import main_group
from loopdev.config.image_match import dockerfile_names, match_images, similarity
from loopdev.config.load import load_loopfile
from loopdev.render import render_objects
from loopdev.render.refs import planned_refs_or_placeholders

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  template:
    spec:
      containers:
        - {{name: main, image: "{image}"}}
"""


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def init(root: Path) -> tuple[str, dict]:
    result = CliRunner().invoke(main_group, ["-f", str(root / "loopfile.yaml"), "init"])
    assert result.exit_code == 0, result.output
    return result.output, yaml.safe_load((root / "loopfile.yaml").read_text())


def test_the_reported_case_one_dockerfile_one_reference(tmp_path: Path) -> None:
    root = tmp_path / "initrepo"
    write(
        root,
        {
            "Dockerfile": "FROM scratch\n",
            "k8s/app.yaml": DEPLOY.format(name="shop", image="ghcr.io/acme/shop:1.2"),
        },
    )
    output, data = init(root)
    assert data["images"] == {"ghcr.io/acme/shop": {"context": "."}}
    assert "image ghcr.io/acme/shop from Dockerfile" in output
    config = load_loopfile(root / "loopfile.yaml", env={})
    refs, _ = planned_refs_or_placeholders(config)
    [obj] = render_objects(config, refs)
    image = obj["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == refs["ghcr.io/acme/shop"] and image != "ghcr.io/acme/shop:1.2"  # injected


def test_several_dockerfiles_pair_by_name_and_the_rest_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "mono"
    write(
        root,
        {
            "services/api/Dockerfile": "FROM scratch\n",
            "services/web-ui/docker/Dockerfile": "FROM scratch\n",
            "tools/migrate.Dockerfile": "FROM scratch\n",
            "services/extra/Dockerfile": "FROM scratch\n",
            "k8s/api.yaml": DEPLOY.format(name="api", image="registry.acme.io:5000/shop-api:2"),
            "k8s/ui.yaml": DEPLOY.format(name="ui", image="ghcr.io/acme/shop-webui@sha256:ab"),
            "k8s/job.yaml": (
                "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: m}\nspec:\n"
                "  jobTemplate:\n    spec:\n      template:\n        spec:\n"
                "          initContainers: [{name: i, image: 'acme/db-migrate:1'}]\n"
                "          containers: [{name: c, image: redis:7}]\n"
            ),
        },
    )
    output, data = init(root)
    assert data["images"] == {
        "registry.acme.io:5000/shop-api": {"context": "services/api"},
        "ghcr.io/acme/shop-webui": {"context": "services/web-ui/docker"},
        "acme/db-migrate": {"context": "tools", "dockerfile": "migrate.Dockerfile"},
        "extra": {"context": "services/extra"},
    }
    assert "image extra from services/extra/Dockerfile: no image in the manifests" in output
    assert "image redis (in the manifests or charts) has no Dockerfile here" in output


def test_chart_values_and_templates_name_images_too(tmp_path: Path) -> None:
    root = tmp_path / "charted"
    write(
        root,
        {
            "backend/Dockerfile": "FROM scratch\n",
            "frontend/Dockerfile": "FROM scratch\n",
            "chart/Chart.yaml": "name: c\n",
            "chart/values.yaml": (
                "backend:\n  image: {registry: ghcr.io, repository: acme/backend, tag: '1'}\n"
            ),
            "chart/templates/front.yaml": (
                "kind: Deployment\nspec:\n  containers:\n"
                "    - image: quay.io/acme/frontend:{{ values.tag }}\n"
                "    - image: quay.io/acme/sidecar:1\n"
            ),
        },
    )
    _, data = init(root)
    assert data["images"] == {
        "ghcr.io/acme/backend": {"context": "backend"},
        "quay.io/acme/frontend": {"context": "frontend"},
    }


def test_kustomize_bases_and_image_overrides_name_images(tmp_path: Path) -> None:
    root = tmp_path / "kust"
    write(
        root,
        {
            "app/Dockerfile": "FROM scratch\n",
            "worker/Dockerfile": "FROM scratch\n",
            "deploy/base/kustomization.yaml": "resources: [app.yaml]\n",
            "deploy/base/app.yaml": DEPLOY.format(name="app", image="acme/app:1"),
            "deploy/dev/kustomization.yaml": (
                "resources: [../base]\nimages: [{name: worker, newName: ghcr.io/acme/worker}]\n"
            ),
        },
    )
    _, data = init(root)
    assert data["images"] == {
        "acme/app": {"context": "app"},
        "ghcr.io/acme/worker": {"context": "worker"},
    }


@pytest.mark.parametrize(
    ("a", "b", "related"),
    [
        ("api", "api", True),
        ("api", "shop-api", True),
        ("web-ui", "webui", True),
        ("api", "web", False),
        ("worker", "frontend", False),
    ],
)
def test_similarity(a: str, b: str, related: bool) -> None:
    assert (similarity(a, b) >= 0.6) == related


def test_names_of_a_dockerfile_most_telling_first() -> None:
    assert dockerfile_names(Path("svc/api/docker/Dockerfile.dev"), "proj") == [
        "dev",
        "api",
        "svc",
        "proj",
    ]


def test_two_dockerfiles_never_claim_one_reference() -> None:
    files = [Path("a/api/Dockerfile"), Path("b/api/Dockerfile")]
    match = match_images(files, ["acme/api"], "p", ["api", "api-2"])
    assert match.images == {"acme/api": files[0], "api-2": files[1]}
    assert match.lone_dockerfiles == [(files[1], "api-2")] and match.lone_refs == []
