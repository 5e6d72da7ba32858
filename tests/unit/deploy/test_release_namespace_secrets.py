"""A Helm release's own namespace counts for redaction: the project's labelled Secrets there
are registered like those of the project namespace."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from loopdev.config.model import Deploy, HelmRelease, Loopfile
from loopdev.engine.logs import LogStore
from loopdev.engine.reconciler import SessionContext
from loopdev.engine.store import Store
from loopdev.reconcilers.secrets import register_cluster_secrets
from loopdev.redact import REDACTOR


class Secrets:
    """kube.list for Secrets: each namespace's own, recording where it was asked."""

    def __init__(self, by_namespace: dict[str, str]) -> None:
        self.by_namespace, self.asked = by_namespace, []

    async def list(self, api_version: str, kind: str, namespace: Any, label_selector: str = ""):
        self.asked.append((kind, namespace, label_selector))
        value = self.by_namespace.get(namespace)
        data = {"token": base64.b64encode(value.encode()).decode()} if value else {}
        items = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": data}]
        return (items if value else []), "1"


async def test_secrets_in_a_release_namespace_are_registered(tmp_path: Path) -> None:
    releases = (
        HelmRelease(tmp_path / "a", "a"),
        HelmRelease(tmp_path / "b", "b", namespace="cache"),
    )
    cfg = Loopfile(
        path=tmp_path / "loopfile.yaml",
        root=tmp_path,
        name="demo",
        namespace="dev",
        images={},
        deploy=Deploy(kind="helm", helm=releases),
        resources={},
    )
    kube = Secrets({"dev": "dev-token-1234567", "cache": "cache-token-7654321"})
    ctx = SessionContext(cfg, Store(), LogStore(), "ctx", "dev", kube=kube)
    REDACTOR.clear()
    try:
        assert await register_cluster_secrets(ctx) == 2
        assert [ns for _, ns, _ in kube.asked] == ["dev", "cache"]
        assert "cache-token-7654321" not in REDACTOR.scrub("leaked cache-token-7654321")
        assert "dev-token-1234567" not in REDACTOR.scrub("leaked dev-token-1234567")
    finally:
        REDACTOR.clear()
