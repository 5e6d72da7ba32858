"""A manifest that names its own namespace (``metadata.namespace: other``), end to end
against the fake API server: `ci` applies it there and waits for it (the watch follows the
namespace the render names), an unchanged second `ci` writes nothing (the object is listed
where it lives), and `down` deletes it there, with the namespace loopdev created for it.
Before this, the workload was applied but never seen, so `ci` waited out its timeout, and
`down` left it behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from loopdev.commands.down import rendered_namespaces
from tests.integration.deploy_support import deployment, load, write_project
from tests.integration.deploy_support import loopdev_cli as loopdev

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]


def in_namespace(manifest: str, namespace: str) -> str:
    return manifest.replace(
        "metadata:\n  name: web\n", f"metadata:\n  name: web\n  namespace: {namespace}\n", 1
    )


def test_a_manifest_in_its_own_namespace_is_applied_followed_and_torn_down(
    tmp_path: Path, fake_cluster: Any, namespace: str, busybox_image: str
) -> None:
    other = f"{namespace}-m"[:63]
    app = in_namespace(deployment(), other)
    assert f"namespace: {other}" in app
    path = write_project(tmp_path, "itmanifestns", namespace, app=app)
    assert rendered_namespaces(load(path)) == (namespace, other)
    try:
        ci = loopdev(fake_cluster, path, "ci", "--timeout", "90")
        assert ci.returncode == 0, ci.stdout + ci.stderr
        assert "every resource is ready" in ci.stdout
        assert fake_cluster.get_object("apps", "deployments", other, "web") is not None
        assert fake_cluster.get_object("apps", "deployments", namespace, "web") is None
        created = fake_cluster.get_object("", "namespaces", "", other)
        assert created["metadata"]["labels"]["loopdev.dev/project"] == "itmanifestns"

        again = loopdev(fake_cluster, path, "ci", "--timeout", "90")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "objects unchanged" in again.stdout and "applied" not in again.stdout
    finally:
        down = loopdev(fake_cluster, path, "down", "--timeout", "60")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "deleted Deployment/web" in down.stdout
    assert f"deleted Namespace/{other}" in down.stdout
    gone = fake_cluster.get_object("apps", "deployments", other, "web")
    assert gone is None or gone["metadata"].get("deletionTimestamp")


def test_down_still_works_when_the_render_is_broken(
    tmp_path: Path, fake_cluster: Any, namespace: str
) -> None:
    path = write_project(tmp_path, "itmanifestns", namespace, app="kind: [broken\n")
    down = loopdev(fake_cluster, path, "down", "--timeout", "30")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "cannot render (" in down.stderr
    assert "looking only in the loopfile's namespaces" in down.stderr
