"""Live update against a real cluster, as a user runs it: `loopdev up` on examples/hello,
the app answers through loopdev's port-forward, a saved file is served without a rebuild,
and `loopdev down` removes what up applied.

Skipped unless LOOPDEV_E2E_KUBECONFIG names a kubeconfig whose current context is a local
cluster; the example is built on the locally made Python image (profile ``offline``) and
delivered the way loopdev picks for that cluster.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

KUBECONFIG = os.environ.get("LOOPDEV_E2E_KUBECONFIG", "")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.docker,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not KUBECONFIG, reason="LOOPDEV_E2E_KUBECONFIG is not set"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.read().decode()
    except OSError:
        return ""


def wait_until(check, timeout: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_up_serves_a_saved_file_without_a_rebuild(tmp_path: Path, python_image: str) -> None:
    root = tmp_path / "hello"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
    port = free_port()
    loopfile = root / "loopfile.yaml"
    text = loopfile.read_text().replace('"8080:8000"', f'"{port}:8000"')
    namespace = f"loopdev-e2e-{secrets.token_hex(3)}"
    loopfile.write_text(re.sub(r"(?m)^namespace: .*$", f"namespace: {namespace}", text))
    env = {**os.environ, "KUBECONFIG": KUBECONFIG, "NO_COLOR": "1", "LOOPDEV_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "loopdev", "-f", str(loopfile)]
    proc = subprocess.Popen(
        [*cmd, "up", "--no-tui"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True).start()
    url = f"http://127.0.0.1:{port}/api/message"
    try:
        assert wait_until(lambda: "Hello from loopdev" in fetch(url), 300), "".join(lines)
        built = sum("built hello-web" in ln for ln in lines)
        (root / "app" / "message.txt").write_text("edited by the e2e test\n")
        assert wait_until(lambda: "edited by the e2e test" in fetch(url), 20), "".join(lines)
        assert any("synced 1 file" in ln for ln in lines), "".join(lines)
        assert sum("built hello-web" in ln for ln in lines) == built  # no rebuild
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        down = subprocess.run([*cmd, "down"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, "".join(lines)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "deleted Deployment/hello-web" in down.stdout
