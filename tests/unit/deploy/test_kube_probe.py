"""The start-up probe (one pod list through the ApiClient, no typed API) against a plain
HTTP server: a PodList passes; a 200 that is no PodList, a 401 and a 404 each fail with
what the server is and said, the request being the one a pod list is."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from loopdev.adapters.kube import KubeClient, resolve_target
from loopdev.errors import DeployError
from tests.support.kubeconfig import write_kubeconfig

CONTEXT = "kind-probe"
POD_LIST = json.dumps(
    {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"}, "items": []}
).encode()


class Server:
    def __init__(self) -> None:
        self.answer: tuple[int, str, bytes] = (200, "application/json", b"{}")
        self.seen: list[tuple[str, str | None]] = []


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.seen.append((self.path, self.headers.get("Authorization")))
            status, ctype, body = state.answer
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", url, "sekret", CONTEXT)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def probe(namespace: str = "my ns") -> None:
    kube = KubeClient(resolve_target(CONTEXT))
    try:
        kube.probe(namespace, timeout=5.0)
    finally:
        kube.close()


def test_a_pod_list_passes_and_is_the_request_a_pod_list_makes(server: Server) -> None:
    server.answer = (200, "application/json", POD_LIST)
    probe()
    assert server.seen == [("/api/v1/namespaces/my%20ns/pods?limit=1", "Bearer sekret")]


def test_a_200_from_another_web_server_is_not_taken_for_a_cluster(server: Server) -> None:
    server.answer = (200, "text/html", b"<html>welcome</html>")
    with pytest.raises(DeployError) as err:
        probe()
    assert "does not answer like a Kubernetes API server" in err.value.message
    assert "no PodList: text/html" in err.value.message


@pytest.mark.parametrize(
    ("status", "words"),
    [(401, "rejected loopdev's credentials (401 Unauthorized): go away"), (404, "HTTP 404")],
)
def test_a_refusal_names_the_status_and_the_servers_message(
    server: Server, status: int, words: str
) -> None:
    body = {"kind": "Status", "status": "Failure", "message": "go away", "code": status}
    server.answer = (status, "application/json", json.dumps(body).encode())
    with pytest.raises(DeployError) as err:
        probe()
    assert words in err.value.message
    assert "go away" in err.value.message
