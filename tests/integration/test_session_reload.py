"""Loopfile edits during `up`, end to end: a real session on the fake cluster follows each
save of the loopfile. An edited value is redeployed, an added port-forward answers, an added
local command runs, and an invalid edit is reported (file:line, in the plain output) while
the session keeps running the last good config, until a fix clears it."""

from __future__ import annotations

import io
import socket
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from loopdev.adapters.kube import KubeClient, resolve_target
from loopdev.engine.session import Session, load_reconcilers
from loopdev.output import PlainOutput
from tests.integration.deploy_support import MINE, load
from tests.support.wait import until

pytestmark = [pytest.mark.docker, pytest.mark.timeout(240)]

RECONCILERS = [
    *MINE,
    "loopdev.reconcilers.portforward:PortForwardReconciler",
    "loopdev.reconcilers.local:LocalReconciler",
    "loopdev.reconcilers.config:ConfigReconciler",
]

SERVE = "mkdir -p /www && echo value=$VALUE > /www/index.html && exec httpd -f -p 8000 -h /www"

TEMPLATE = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: web
          image: loopdev-test/busybox:1
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "{SERVE}"]
          env: [{{name: VALUE, value: "{{{{ values.value }}}}"}}]
          ports: [{{name: http, containerPort: 8000}}]
          readinessProbe: {{tcpSocket: {{port: 8000}}, periodSeconds: 1}}
"""


def loopfile(namespace: str, value: str, extra: str = "", forward: str = "") -> str:
    forwards = f'\n    portForwards: ["{forward}"]' if forward else ""
    return (
        textwrap.dedent(
            f"""\
            version: v1
            name: itreload
            namespace: {namespace}
            deploy:
              chart: chart
              values:
                value: {value}
            resources:
              web:
                workload: deployment/web"""
        )
        + forwards
        + "\n"
        + extra
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
            return str(resp.read().decode())
    except OSError:
        return ""


async def test_loopfile_edits_are_followed_and_invalid_ones_reported(
    tmp_path: Path, fake_cluster: Any, namespace: str, busybox_image: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    (tmp_path / "chart" / "templates").mkdir(parents=True)
    (tmp_path / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (tmp_path / "chart" / "templates" / "web.yaml").write_text(TEMPLATE)
    path = tmp_path / "loopfile.yaml"
    path.write_text(loopfile(namespace, "one"))

    out = io.StringIO()
    kube = KubeClient(resolve_target(fake_cluster.context))
    session = Session(
        load(path),
        kube,
        fake_cluster.context,
        reconcilers=load_reconcilers(RECONCILERS),
        presenter=PlainOutput(out, color=False),
    )

    def env_value() -> str:
        dep = fake_cluster.get_object("apps", "deployments", namespace, "web") or {}
        containers = dep.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
        return str(containers[0]["env"][0]["value"]) if containers else ""

    def web_state() -> str:
        res = session.store.state.resource("web")
        return res.state if res else ""

    await session.start()
    try:
        await until(lambda: env_value() == "one", "the first deploy")
        await until(lambda: web_state() == "ready", "web ready", 90)

        # 1. An edited value in the loopfile is redeployed.
        path.write_text(loopfile(namespace, "two"))
        await until(lambda: env_value() == "two", "the edited value to be applied")

        # 2. An added port-forward answers (from the pod running the new value).
        port = free_port()
        path.write_text(loopfile(namespace, "two", forward=f"{port}:http"))
        await until(lambda: fetch(port) == "value=two\n", "the added port-forward", 90)

        # 3. An added local command runs.
        marker = tmp_path / "local-ran"
        side = f'local:\n  side:\n    serve: "touch {marker}; exec sleep 300"\n'
        path.write_text(loopfile(namespace, "two", side, forward=f"{port}:http"))
        await until(marker.exists, "the added local command to run")
        assert session.store.state.resource("side") is not None

        # 4. An invalid edit: reported with file:line, the last good config keeps running.
        reloads = session.store.state.config_reloads
        bad = loopfile(namespace, "three", side, forward=f"{port}:http")
        path.write_text(bad.replace("workload: deployment/web", "workload: 42"))
        error = await until(lambda: session.store.state.config_error, "the error")
        assert "loopfile.yaml:" in error and "resources.web.workload" in error
        line = next(n for n, t in enumerate(bad.splitlines(), 1) if "workload:" in t)
        assert f"loopfile.yaml:{line}:" in error
        await until(lambda: "loopfile not reloaded: " in out.getvalue(), "the plain line")
        assert session.store.state.config_reloads == reloads
        assert not session.ctx.shared.get("crashed")
        assert env_value() == "two", out.getvalue()
        await until(lambda: fetch(port) == "value=two\n", "the forward, still running", 30)

        # 5. The fix is taken into use and clears the error.
        path.write_text(loopfile(namespace, "three", side, forward=f"{port}:http"))
        await until(lambda: not session.store.state.config_error, "the error to clear")
        await until(lambda: env_value() == "three", "the fixed edit to be applied")
        assert "loopfile valid again" in out.getvalue()

        # 6. A removed port-forward closes, and the status no longer shows it.
        reloads = session.store.state.config_reloads
        path.write_text(loopfile(namespace, "three", side))
        await until(lambda: session.store.state.config_reloads > reloads, "the reload")

        def forwards() -> tuple[object, ...] | None:
            res = session.store.state.resource("web")
            return res.forwards if res is not None else None

        await until(lambda: forwards() == (), "the forward to leave the status", 10)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        assert not session.ctx.shared.get("crashed")
        assert "Traceback" not in out.getvalue()
    finally:
        await session.stop()
        kube.close()


def test_up_cli_reports_an_invalid_edit_and_follows_the_fix(
    tmp_path: Path, fake_cluster: Any, namespace: str, busybox_image: str
) -> None:
    """`loopdev up --no-tui` itself (the loader `up` reloads with): one plain line with
    file:line for the bad save, the session keeps running, the fixed save is applied."""
    import os
    import subprocess
    import sys
    import threading

    from tests.integration.deploy_support import write_project

    path = write_project(tmp_path, "itupreload", namespace)
    good = path.read_text()
    env = {**os.environ, "KUBECONFIG": str(fake_cluster.kubeconfig), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "loopdev", "-f", str(path), "up", "--no-tui"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    seen = threading.Condition()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with seen:
                lines.append(line)
                seen.notify_all()

    def wait_for(text: str, timeout: float = 90) -> str:
        with seen:
            assert seen.wait_for(lambda: any(text in x for x in lines), timeout), "".join(lines)
            return next(x for x in lines if text in x)

    threading.Thread(target=read, daemon=True).start()
    try:
        wait_for("ready")
        path.write_text(good.replace("workload: deployment/web", "workload: [web]"))
        bad = wait_for("loopfile not reloaded: ")
        line = next(n for n, t in enumerate(good.splitlines(), 1) if "workload:" in t)
        assert f"loopfile.yaml:{line}:" in bad and "resources.web.workload" in bad
        path.write_text(good.replace("resources:\n", "resources:\n  # fixed\n"))
        wait_for("loopfile valid again")
        assert proc.poll() is None  # still running throughout
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert "Traceback" not in "".join(lines)
