"""`ci` on the fake API server: the first run waits the settle for the pods it rolled out;
an unchanged re-run whose pods have long been Ready (by their own timestamps) does not."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.integration.deploy_support import load, make_session, write_project

pytestmark = pytest.mark.docker


@pytest.fixture
def kubeconfig_env(fake_cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    yield fake_cluster.context


def epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def the_pod(fake_cluster, namespace: str) -> dict:
    def read() -> list[dict]:
        store = fake_cluster.kube.store
        return store.list(store.kind_of(("", "pods")), namespace)

    (pod,) = fake_cluster.call(read)
    return pod


async def test_an_unchanged_ci_needs_no_settle_wait_for_pods_ready_before_it(
    tmp_path: Path, fake_cluster, namespace: str, kubeconfig_env: str, busybox_image: str
) -> None:
    path = write_project(tmp_path, "itsettle", namespace)
    first = make_session(load(path), kubeconfig_env, once=True)
    try:
        verdict = await first.run_until_ready(timeout=60)
    finally:
        first.ctx.kube.close()
    seen_ready = time.time()
    assert verdict.ok and verdict.reason == "stayed ready 2s: web"  # rolled out by this run
    # The fake stamps the Ready transition when it happens, like a kubelet.
    status = the_pod(fake_cluster, namespace)["status"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert epoch(status["startTime"]) <= epoch(ready["lastTransitionTime"]) <= seen_ready
    # Once the pod has been Ready for the settle (+1 s of timestamp resolution) by its own
    # clock, an unchanged run has nothing to wait for.
    await asyncio.sleep(max(0.0, epoch(ready["lastTransitionTime"]) + 3.1 - time.time()))
    writes = fake_cluster.write_count()
    second = make_session(load(path), kubeconfig_env, once=True)
    try:
        again = await second.run_until_ready(timeout=60)
    finally:
        second.ctx.kube.close()
    assert fake_cluster.write_count() == writes  # a no-op run
    assert again.ok and again.reason == "ready 2s+ by the pods' own clock: web"
