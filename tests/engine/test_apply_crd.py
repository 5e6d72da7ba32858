"""A chart that ships a CRD and an instance of it deploys in one pass."""

from __future__ import annotations

from typing import Any

import pytest

from loopdev.deploy.apply import apply_objects
from loopdev.errors import UnknownKind
from loopdev.render.labels import ownership_labels
from tests.engine.memkube import MemKube


class CrdKube(MemKube):
    """Serves kind Widget only once its CRD was applied and a few calls went by."""

    def __init__(self, establish_after: int = 2) -> None:
        super().__init__()
        self.countdown: int | None = None
        self.establish_after = establish_after

    def _serves(self, kind: str) -> None:
        if kind != "Widget":
            return
        if self.countdown is None or self.countdown > 0:
            if self.countdown is not None:
                self.countdown -= 1
            raise UnknownKind("the cluster does not serve Widget (example.com/v1)")

    async def apply(self, obj: dict[str, Any], namespace: str | None) -> dict[str, Any]:
        self._serves(obj["kind"])
        out = await super().apply(obj, namespace)
        if obj["kind"] == "CustomResourceDefinition":
            self.countdown = self.establish_after
        return out

    async def is_namespaced(self, api_version: str, kind: str) -> bool:
        self._serves(kind)
        return await super().is_namespaced(api_version, kind)

    async def list(self, api_version, kind, namespace, label_selector=""):  # noqa: ANN001, ANN201
        self._serves(kind)
        return await super().list(api_version, kind, namespace, label_selector)


def objects() -> list[dict[str, Any]]:
    labels = ownership_labels("p")
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com", "labels": labels},
        "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}},
    }
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "dev", "labels": labels},
        "spec": {"size": 3},
    }
    return [crd, widget]


async def test_custom_resource_waits_for_its_crd_in_the_same_apply() -> None:
    kube = CrdKube()
    report = await apply_objects(kube, objects(), "dev", "p")
    assert report.applied == ["CustomResourceDefinition/widgets.example.com", "Widget/w1"]
    assert ("Widget", "dev", "w1") in kube.objects


async def test_custom_resource_without_its_crd_fails_clearly() -> None:
    kube = CrdKube()
    with pytest.raises(UnknownKind, match="does not serve Widget"):
        await apply_objects(kube, objects()[1:], "dev", "p")
