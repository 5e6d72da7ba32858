from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from pf_fake_server import TOKEN, FakeApi

from loopdev.adapters.kube_portforward import KubeWire


def write_kubeconfig(path: Path, server: str, context: str = "kind-pf") -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": TOKEN}}],
                "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
                "current-context": context,
            }
        )
    )
    return path


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeApi]:
    api = FakeApi()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
async def wire(fake_api: FakeApi, tmp_path: Path) -> AsyncIterator[KubeWire]:
    cfg = write_kubeconfig(tmp_path / "kubeconfig", fake_api.url)
    w = await KubeWire.connect("kind-pf", str(cfg))
    yield w
    await w.close()
