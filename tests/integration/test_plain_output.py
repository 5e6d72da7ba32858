"""`loopdev up --no-tui` prints one line per event: a live update's message once (not as a
`loopdev` log line and again as the sync event), a build step once (not as `building: ...`
beside the build's own output line)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from loopdev.build.progress import step_of
from tests.integration.deploy_support import write_project

pytestmark = pytest.mark.docker

LIVE = """\
    live:
      sync:
        - {src: www/, dest: /www/}
"""


def test_plain_up_prints_each_sync_and_build_step_once(
    tmp_path: Path, fake_cluster, namespace: str, busybox_image: str
) -> None:
    path = write_project(tmp_path, "itplain", namespace)
    text = path.read_text().replace(
        "    dockerfile: Dockerfile\n", "    dockerfile: Dockerfile\n" + LIVE
    )
    path.write_text(text)
    (tmp_path / "Dockerfile").write_text(
        (tmp_path / "Dockerfile").read_text() + f"RUN echo {os.getpid()}-{time.time_ns()}\n"
    )  # a fresh build, so there are steps to show
    env = {**os.environ, "KUBECONFIG": str(fake_cluster.kubeconfig), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "loopdev", "-f", str(path), "up", "--no-tui"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    ready, synced = threading.Event(), threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("web ") and "│ ready" in line:
                ready.set()
            if "synced 1 file" in line:
                synced.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(90), "\n".join(lines)
        time.sleep(0.5)
        (tmp_path / "www" / "index.html").write_text("changed\n")
        assert synced.wait(30), "\n".join(lines)
        time.sleep(1.0)  # the sync event follows the log line within a loop turn
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
        reader.join(5)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "\n".join(lines)
    sync_lines = [x for x in lines if "synced 1 file" in x]
    assert len(sync_lines) == 1, output
    texts = [x.split("│")[-1].strip().removeprefix("building: ") for x in lines]
    steps = [x.split("│")[-1].strip() for x, t in zip(lines, texts, strict=True) if step_of(t)]
    assert steps, output
    assert not any(x.startswith("building: ") for x in steps), output
    repeated = [s for s, n in Counter(steps).items() if n > 1]
    assert not repeated, output
