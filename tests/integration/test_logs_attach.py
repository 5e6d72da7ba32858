"""`up` attaching to a pod that was already running streams from the session start plus a
short tail (not the pod's whole history), with no gap and no repeat between the two; a pod
started during the session is streamed from its first line."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from loopdev.reconcilers.logs import ATTACH_TAIL, LogsReconciler, attach_cut, split_timestamp
from tests.integration.deploy_support import deployment, load, make_session, write_project
from tests.support.wait import await_for

pytestmark = pytest.mark.docker

COUNTER = "i=0; while true; do i=$((i+1)); echo line$i; sleep 0.05; done"


def numbers(session, source_prefix: str = "") -> list[int]:  # noqa: ANN001
    return [
        int(m.group(1))
        for line in session.logs.lines("web")
        if line.source.startswith(source_prefix) and (m := re.fullmatch(r"line(\d+)", line.text))
    ]


async def test_attach_streams_from_the_session_start_plus_a_short_tail(
    tmp_path: Path, fake_cluster, namespace: str, busybox_image: str, monkeypatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    path = write_project(tmp_path, "itattach", namespace, app=deployment(command=COUNTER))
    first = make_session(load(path), fake_cluster.context, once=True)
    assert (await first.run_until_ready(timeout=60)).ok
    first.ctx.kube.close()
    await asyncio.sleep(4)  # the pod is now well older than the next session (~80 lines)

    second = make_session(load(path), fake_cluster.context)
    logs = next(r for r in second.reconcilers if isinstance(r, LogsReconciler))
    await second.start()
    try:
        await await_for(
            lambda: asyncio.sleep(0, len(numbers(second)) > ATTACH_TAIL + 20 or None),
            30,
            what="lines after the session start",
        )
        seen = numbers(second)
        pod = next(p["metadata"]["name"] for p in second.watch.pods())
        stamped = await second.ctx.kube.read_log(
            pod, namespace, "main", tail=100000, timestamps=True
        )
        assert logs.session_start is not None
        cut, _ = split_timestamp(f"{attach_cut(0.0, logs.session_start)} -")
        before = [int(t[4:]) for s, t in map(split_timestamp, stamped.splitlines()) if s < cut]
        # The last ATTACH_TAIL lines from before the session, then every line since: no gap,
        # no repeat, and not the ~80 lines of history.
        assert seen[0] == before[-1] - ATTACH_TAIL + 1 > 1, (seen[:5], before[-3:])
        assert seen == list(range(seen[0], seen[0] + len(seen)))

        # A pod started during the session is streamed from its first line.
        await second.ctx.kube.delete("v1", "Pod", pod, namespace)
        await await_for(
            lambda: asyncio.sleep(
                0,
                any(p["metadata"]["name"] != pod for p in second.watch.pods())
                and 1 in numbers(second, next(
                    p["metadata"]["name"] for p in second.watch.pods()
                    if p["metadata"]["name"] != pod
                ))
                or None,
            ),
            60,
            what="the new pod's first line",
        )  # fmt: skip
    finally:
        await second.stop()
        second.ctx.kube.close()
