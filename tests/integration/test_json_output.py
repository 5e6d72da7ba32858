"""`--output json` on every command that takes it (`ci`, `up`): stdout is JSON Lines only
(`loopdev ci --output json | jq .` works), and the human lines go to stderr."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.integration.deploy_support import deployment, write_project

pytestmark = pytest.mark.docker


def _env(kubeconfig: Path) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(kubeconfig), "NO_COLOR": "1"}


def _objects(stdout: str) -> list[dict[str, object]]:
    """Every stdout line as a JSON object; fails naming the first line that is not one."""
    out = []
    for line in stdout.splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"not JSON on stdout: {line!r}") from None
        assert isinstance(obj, dict) and "type" in obj, line
        out.append(obj)
    return out


def test_ci_json_stdout_is_only_json_and_the_verdict_goes_to_stderr(
    tmp_path: Path, fake_cluster, namespace: str, busybox_image: str
) -> None:
    path = write_project(tmp_path, "itjson", namespace)
    done = subprocess.run(
        [sys.executable, "-m", "loopdev", "-f", str(path), "ci", "--output", "json", "--down"],
        env=_env(fake_cluster.kubeconfig),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    events = _objects(done.stdout)
    assert any(e["type"] == "state" and e.get("state") == "ready" for e in events)
    assert "loopdev: every resource is ready" in done.stderr
    assert "deleted Deployment/web" in done.stderr


def test_ci_json_failure_keeps_stdout_json(
    tmp_path: Path, fake_cluster, namespace: str, busybox_image: str
) -> None:
    app = deployment(image="loopdev-test/no-such-image:404")
    path = write_project(tmp_path, "itjsonfail", namespace, app=app)
    argv = ["-f", str(path), "ci", "--output", "json", "--timeout", "60", "--down"]
    done = subprocess.run(
        [sys.executable, "-m", "loopdev", *argv],
        env=_env(fake_cluster.kubeconfig),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    _objects(done.stdout)
    assert "loopdev: web: image-error" in done.stderr


def test_up_json_stdout_is_only_json_until_ctrl_c(
    tmp_path: Path, fake_cluster, namespace: str, busybox_image: str
) -> None:
    path = write_project(tmp_path, "itjsonup", namespace)
    proc = subprocess.Popen(
        [sys.executable, "-m", "loopdev", "-f", str(path), "up", "--output", "json"],
        env=_env(fake_cluster.kubeconfig),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if '"state": "ready"' in line and '"resource": "web"' in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(90), "".join(lines)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=15)
        reader.join(5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(lines) + stderr
    _objects("".join(lines))
    assert "loopdev: stopped; resources keep running" in stderr
