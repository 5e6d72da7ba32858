"""`loopdev ci` fails in seconds, with the cause, when the cluster cannot be used (nothing
listening, bad credentials, an untrusted certificate) or a port-forward cannot bind its local
port, instead of waiting out the default 600 s ``--timeout``. (The subprocess deadline of
``run_cli`` is what would catch a wait; no test here times anything.)"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.integration.deploy_support import write_project
from tests.integration.test_session import run_cli
from tests.support.kubeconfig import write_kubeconfig

CONTEXT = "kind-failfast"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ci_against_a_closed_port_fails_with_connection_refused(tmp_path: Path) -> None:
    server = f"https://127.0.0.1:{closed_port()}"
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server, "token", CONTEXT)
    path = write_project(tmp_path / "p", "itfastrefused", "default")
    done = run_cli(["-f", str(path), "ci"], kubeconfig)  # the default --timeout: 600 s
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"loopdev: cannot reach the Kubernetes API at {server}" in done.stderr
    assert "connection refused" in done.stderr
    assert "Traceback" not in done.stderr and "not ready after" not in done.stderr


@pytest.mark.docker
def test_ci_with_a_wrong_token_fails_with_401(tmp_path: Path, fake_cluster) -> None:
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig", fake_cluster.url, "not-the-token", CONTEXT,
        ca_pem=fake_cluster.ca_pem,
    )  # fmt: skip
    path = write_project(tmp_path / "p", "itfast401", "default")
    done = run_cli(["-f", str(path), "ci"], kubeconfig)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "rejected loopdev's credentials (401 Unauthorized)" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.docker
def test_ci_against_an_untrusted_certificate_fails_with_tls(tmp_path: Path, fake_cluster) -> None:
    # No CA in the kubeconfig: the fake's self-made CA is not among the system's.
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig", fake_cluster.url, fake_cluster.token, CONTEXT
    )
    path = write_project(tmp_path / "p", "itfasttls", "default")
    done = run_cli(["-f", str(path), "ci"], kubeconfig)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "TLS: the server's certificate is not trusted" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.docker
def test_ci_fails_when_a_forward_cannot_bind_its_local_port(
    tmp_path: Path, fake_cluster, namespace: str, busybox_image: str
) -> None:
    path = write_project(tmp_path, "itfastpf", namespace)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        text = path.read_text().replace(
            "workload: deployment/web\n",
            f'workload: deployment/web\n    portForwards: ["{port}:8080"]\n',
        )
        path.write_text(text)
        done = run_cli(["-f", str(path), "ci"], fake_cluster.kubeconfig)
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        f"loopdev: web: port-forward 127.0.0.1:{port}: local port {port} is already in use by "
        in done.stderr
    )
    assert "(pid " in done.stderr  # the holder (this test's process) is named
    assert "Traceback" not in done.stderr
