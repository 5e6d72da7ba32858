"""`loopdev ci` end to end: the CLI's exit codes, an unchanged second run that makes no build
and no write call, and proof that what is applied is exactly what `loopdev render` prints."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from loopdev.adapters.docker import DockerAdapter
from loopdev.cli import main_group
from loopdev.deploy.diff import HASH_ANNOTATION, object_hash
from tests.integration.deploy_support import (
    deployment,
    load,
    make_session,
    write_project,
)

pytestmark = pytest.mark.docker


def run_cli(args: list[str], kubeconfig: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "loopdev", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_second_ci_makes_no_build_and_no_write_and_applies_what_render_prints(
    tmp_path: Path, fake_cluster, namespace: str, busybox_image: str, monkeypatch
) -> None:
    path = write_project(tmp_path, "itci", namespace)
    first = run_cli(["-f", str(path), "ci", "--timeout", "60"], fake_cluster.kubeconfig)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "every resource is ready" in first.stdout
    assert "web" in first.stdout and "ready" in first.stdout

    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    docker = await DockerAdapter.connect()
    writes = fake_cluster.write_count()
    second = make_session(load(path), fake_cluster.context, once=True, docker=docker)
    verdict = await second.run_until_ready(timeout=60)
    second.ctx.kube.close()
    assert verdict.ok, verdict
    assert docker.build_calls == 0
    assert fake_cluster.write_count() == writes, [
        (r.method, r.path) for r in fake_cluster.requests() if r.is_write
    ][-5:]

    printed = CliRunner().invoke(main_group, ["-f", str(path), "render"], env={})
    assert printed.exit_code == 0, printed.output
    rendered = [d for d in yaml.safe_load_all(printed.output) if d]
    assert {(o["kind"], o["metadata"]["name"]) for o in rendered} == {
        ("Deployment", "web"),
        ("ConfigMap", "settings"),
    }
    for obj in rendered:
        group, plural = (
            ("apps", "deployments") if obj["kind"] == "Deployment" else ("", "configmaps")
        )
        live = fake_cluster.get_object(group, plural, namespace, obj["metadata"]["name"])
        assert live["metadata"]["annotations"][HASH_ANNOTATION] == object_hash(obj)


def test_failing_ci_exits_1_with_state_and_events_then_tears_down(
    tmp_path: Path, fake_cluster, namespace: str, busybox_image: str
) -> None:
    app = deployment(image="loopdev-test/no-such-image:404")
    path = write_project(tmp_path, "itcifail", namespace, app=app)
    done = run_cli(["-f", str(path), "ci", "--timeout", "60", "--down"], fake_cluster.kubeconfig)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "loopdev: web: image-error" in done.stderr
    assert "no-such-image" in done.stderr and "event " in done.stderr
    assert "deleted Deployment/web" in done.stderr
    assert "Traceback" not in done.stderr
    assert fake_cluster.get_object("apps", "deployments", namespace, "web") is None


def test_remote_context_is_refused_before_any_request(tmp_path: Path, fake_cluster) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    text = fake_cluster.kubeconfig.read_text().replace(fake_cluster.context, "prod-cluster")
    kubeconfig.write_text(text.replace("127.0.0.1", "prod.example.com"))
    path = write_project(tmp_path / "p", "itrefuse", "default")
    requests = len(fake_cluster.requests())
    done = run_cli(["-f", str(path), "ci"], kubeconfig)
    assert done.returncode == 2, done.stderr
    assert "prod-cluster" in done.stderr and "allowContexts" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(fake_cluster.requests()) == requests


def _ignore_sigint() -> None:
    """What a non-interactive shell does to a job it starts with `&`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("stop_signal", "preexec"),
    [(signal.SIGINT, None), (signal.SIGTERM, None), (signal.SIGTERM, _ignore_sigint)],
    ids=["ctrl-c", "term", "term-from-a-background-job"],
)
def test_up_plain_runs_until_ctrl_c_and_leaves_the_cluster_as_it_is(
    tmp_path: Path, fake_cluster, namespace: str, busybox_image: str, stop_signal: int, preexec
) -> None:
    path = write_project(tmp_path, "itup", namespace)
    env = {**os.environ, "KUBECONFIG": str(fake_cluster.kubeconfig), "NO_COLOR": "1"}
    # One merged pipe, read by a thread: a full, unread stderr pipe would block `up`, and a
    # bare `for line in stdout` has no deadline of its own.
    proc = subprocess.Popen(
        [sys.executable, "-m", "loopdev", "-f", str(path), "up", "--no-tui"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=preexec,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("web") and "ready" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(90), "".join(lines)
        started = time.monotonic()
        proc.send_signal(stop_signal)
        proc.wait(timeout=10)
        stopped_in = time.monotonic() - started
        reader.join(5)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(lines)
    assert proc.returncode == 0, output
    assert stopped_in < 5, stopped_in
    assert "resources keep running" in output
    assert any(x.startswith("web") and "ready" in x for x in lines), "".join(lines)
    assert fake_cluster.get_object("apps", "deployments", namespace, "web") is not None


@pytest.mark.parametrize("keep", [False, True])
async def test_down_command_deletes_ours_and_the_namespace_it_created(
    tmp_path: Path, fake_cluster, busybox_image: str, monkeypatch, keep: bool
) -> None:
    namespace = f"itdowncli-{'keep' if keep else 'all'}-{os.getpid()}"
    path = write_project(tmp_path, "itdowncli", namespace)
    monkeypatch.setenv("KUBECONFIG", str(fake_cluster.kubeconfig))
    session = make_session(load(path), fake_cluster.context, once=True)
    assert (await session.run_until_ready(timeout=60)).ok
    session.ctx.kube.close()
    args = ["-f", str(path), "down", *(["--keep-namespace"] if keep else [])]
    done = await asyncio.to_thread(
        CliRunner().invoke, main_group, args, env={"KUBECONFIG": str(fake_cluster.kubeconfig)}
    )
    assert done.exit_code == 0, done.output
    assert "deleted Deployment/web" in done.output and "deleted ConfigMap/settings" in done.output
    assert fake_cluster.get_object("apps", "deployments", namespace, "web") is None
    ns_left = fake_cluster.get_object("", "namespaces", "", namespace)
    assert (ns_left is not None) == keep
    assert (f"deleted Namespace/{namespace}" in done.output) != keep
    if keep:
        again = await asyncio.to_thread(CliRunner().invoke, main_group, ["-f", str(path), "down"])
        assert again.exit_code == 0 and f"deleted Namespace/{namespace}" in again.output
