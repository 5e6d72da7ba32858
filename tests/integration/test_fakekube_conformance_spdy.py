"""Conformance of the fake's SPDY/3.1 exec and port-forward with a real 1.28.7 server.

Facts, each from the wire transcripts (``kube-wire/real-1.28.7``; SUMMARY facts 2, 4, 5):
 1. Refusals are the kubelet's Go ``http.Error`` text: exec offering only v5 -> 403, the
    negotiation message twice, ``X-Accepted-Stream-Protocol-Versions`` (upgrades#25); exec
    without ``X-Stream-Protocol-Version`` -> 400 (#26); port-forward without it -> 500
    ``invalid upgrade response: status code 200`` (#51).
 2. An accepted upgrade is 101 with only ``Connection``, ``Upgrade: SPDY/3.1`` and the
    negotiated ``X-Stream-Protocol-Version`` (the client's first of v4/v3/v2/channel.k8s.io;
    port-forward: portforward.k8s.io), GET or POST (#23, #24, #49, #50; kubectl#52).
 3. Exec: SYN_REPLY per stream; output on stdout/stderr; FIN on stdout then stderr; the Go
    JSON status on ``error``; RST_STREAM (CANCEL) for every stream not finished; GOAWAY with
    the last client stream; the server hangs up (kubectl#61, kubectl-dispatcher#21).
 4. Port-forward: an error/data pair per ``requestid``; the pod's bytes on data, then FIN on
    data and FIN on error; a refused port: FIN on data, the error text, FIN on error
    (kubectl-dispatcher#28, kubectl#89); client GOAWAY -> server GOAWAY (#49).
 5. The real ``kubectl`` (1.28.15 through ``/usr/bin/kubectl`` at a 1.28 claim) can exec
    with stdin, exit with the command's code, and port-forward.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import kubernetes.client as k
import pytest

from tests.fakekube import FakeCluster, spdy
from tests.support.wait import wait_for

pytestmark = pytest.mark.docker

NS = "conformance-spdy"
ECHO = ["sh", "-c", "echo out; echo err >&2; exit 7"]
EXEC_OFFER = "v5.channel.k8s.io, v4.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, "
EXEC_OFFER += "channel.k8s.io"  # kubectl 1.32's SPDY offer (kubectl#52)
STATUS_EXIT_7 = (  # kubectl#61, stream 1
    b'{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code:'
    b" error executing command [sh -c echo out; echo err \\u003e\\u00262; exit 7], exit code 7"
    b'","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"7"}]}}'
)
SUCCESS = b'{"metadata":{},"status":"Success"}'  # kubectl-dispatcher#21
NEGOTIATE_V5 = (  # upgrades#25 (written twice)
    b"unable to upgrade: unable to negotiate protocol: client supports [v5.channel.k8s.io], "
    b"server accepts [v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io]\n"
)


@pytest.fixture(scope="module")
def spdy_pod(fake_cluster: FakeCluster, busybox_image: str) -> Iterator[str]:
    """Pod ``web`` serving ``hello`` on 8080, like the recordings' pod; the fake claims 1.28."""
    before = fake_cluster.server_version
    fake_cluster.set_server_version("1.28")
    api = fake_cluster.api_client()
    core = k.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": NS}})
    script = "mkdir -p /www; echo hello > /www/index.html; exec httpd -f -p 8080 -h /www"
    container: dict[str, Any] = {
        "name": "web",
        "image": busybox_image,
        "command": ["sh", "-c", script],
        "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
    }
    core.create_namespaced_pod(
        NS, {"metadata": {"name": "web"}, "spec": {"containers": [container]}}
    )

    def ready() -> bool:
        pod = core.read_namespaced_pod("web", NS)
        return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])

    wait_for(ready, 60, what="pod web ready")
    yield "web"
    core.delete_namespace(NS)
    api.close()
    fake_cluster.set_server_version(before)


# ---- a raw SPDY client -------------------------------------------------------------------
@dataclass
class Client:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    framer: spdy.Framer = field(default_factory=spdy.Framer)

    def send(self, frame: bytes) -> None:
        self.writer.write(frame)

    async def frames(self, until: float = 15.0) -> list[spdy.Frame]:
        """Every frame until the server hangs up."""
        out: list[spdy.Frame] = []
        while chunk := await asyncio.wait_for(self.reader.read(65536), until):
            out += self.framer.feed(chunk)
        return out

    async def frames_until(
        self, done: Callable[[list[spdy.Frame]], bool], until: float = 15.0
    ) -> list[spdy.Frame]:
        """Frames until ``done(frames)`` holds."""
        out: list[spdy.Frame] = []
        while not done(out):
            chunk = await asyncio.wait_for(self.reader.read(65536), until)
            assert chunk, f"server hung up after {out}"
            out += self.framer.feed(chunk)
        return out


async def upgrade(
    cluster: FakeCluster, method: str, kind: str, query: list[tuple[str, str]], offer: str | None
) -> Client:
    ctx = ssl.create_default_context(cadata=cluster.ca_pem.decode())
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", cluster.port, ssl=ctx, server_hostname="127.0.0.1"
    )
    path = f"/api/v1/namespaces/{NS}/pods/web/{kind}?{urlencode(query)}"
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: Upgrade"]
    lines += ["Upgrade: SPDY/3.1", f"Authorization: Bearer {cluster.token}", "Content-Length: 0"]
    if offer is not None:
        lines.append(f"X-Stream-Protocol-Version: {offer}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status_line, *rest = head.decode().split("\r\n")
    headers = [(n.strip(), v.strip()) for n, _, v in (h.partition(":") for h in rest if h)]
    client = Client(reader, writer, int(status_line.split()[1]), headers)
    length = dict((n.lower(), v) for n, v in headers).get("content-length")
    if client.status != 101 and length:
        client.body = await reader.readexactly(int(length))
    return client


def exec_query(cmd: list[str], stdin: bool = False) -> list[tuple[str, str]]:
    q = [("command", c) for c in cmd] + [("container", "web")]
    return q + ([("stdin", "true")] if stdin else []) + [("stdout", "true"), ("stderr", "true")]


def summary(frames: list[spdy.Frame]) -> list[tuple[str, int, bytes | int]]:
    """(kind, stream, payload or status) per frame, the way the transcripts list them."""
    names = {0: "DATA", 2: "SYN_REPLY", 3: "RST_STREAM", 7: "GOAWAY"}
    out: list[tuple[str, int, bytes | int]] = []
    for f in frames:
        name = names.get(f.kind, str(f.kind))
        if f.kind == spdy.DATA:
            out.append((name + (" FIN" if f.fin else ""), f.stream, f.data))
        else:
            out.append((name, f.stream, f.status))
    return out


# ---- 1: refusals ---------------------------------------------------------------------------
async def test_spdy_refusals_are_the_kubelets_text(
    fake_cluster: FakeCluster, spdy_pod: str
) -> None:
    only_v5 = await upgrade(fake_cluster, "POST", "exec", exec_query(ECHO), "v5.channel.k8s.io")
    assert (only_v5.status, only_v5.body) == (403, NEGOTIATE_V5 * 2)
    assert ("X-Accepted-Stream-Protocol-Versions", "v3.channel.k8s.io") in only_v5.headers
    assert ("Content-Type", "text/plain; charset=utf-8") in only_v5.headers
    assert not any(n == "Audit-Id" for n, _ in only_v5.headers)
    none = await upgrade(fake_cluster, "POST", "exec", exec_query(ECHO), None)
    assert (none.status, none.body) == (
        400,
        b"unable to upgrade: X-Stream-Protocol-Version is required\n",
    )
    pf = await upgrade(fake_cluster, "POST", "portforward", [], None)
    assert (pf.status, pf.body) == (500, b"invalid upgrade response: status code 200\n")


# ---- 2, 3: exec ----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_spdy_exec_frames_as_recorded(
    fake_cluster: FakeCluster, spdy_pod: str, method: str
) -> None:
    client = await upgrade(fake_cluster, method, "exec", exec_query(ECHO), EXEC_OFFER)
    assert client.status == 101
    assert client.headers == [
        ("Connection", "Upgrade"),
        ("Upgrade", "SPDY/3.1"),
        ("X-Stream-Protocol-Version", "v4.channel.k8s.io"),
    ]
    f = client.framer
    for sid, kind in ((1, "error"), (3, "stdout"), (5, "stderr")):
        client.send(f.syn_stream(sid, {"streamtype": [kind]}))
    got = summary(await client.frames())
    assert got[:3] == [("SYN_REPLY", 1, 0), ("SYN_REPLY", 3, 0), ("SYN_REPLY", 5, 0)]
    output = sorted(got[3:5])
    assert output == [("DATA", 3, b"out\n"), ("DATA", 5, b"err\n")]
    assert got[5:] == [
        ("DATA FIN", 3, b""),
        ("DATA FIN", 5, b""),
        ("DATA", 1, STATUS_EXIT_7),
        ("RST_STREAM", 1, spdy.CANCEL),
        ("GOAWAY", 5, 0),
    ]


async def test_spdy_exec_stdin_ends_with_fin(fake_cluster: FakeCluster, spdy_pod: str) -> None:
    query = exec_query(["cat"], stdin=True)
    client = await upgrade(fake_cluster, "POST", "exec", query, "v4.channel.k8s.io")
    f = client.framer
    for sid, kind in ((1, "error"), (3, "stdin"), (5, "stdout"), (7, "stderr")):
        client.send(f.syn_stream(sid, {"streamtype": [kind]}))
    client.send(f.data(3, b"piped\n") + f.data(3, b"", fin=True))
    got = summary(await client.frames())
    assert got == [
        ("SYN_REPLY", 1, 0),
        ("SYN_REPLY", 3, 0),
        ("SYN_REPLY", 5, 0),
        ("SYN_REPLY", 7, 0),
        ("DATA", 5, b"piped\n"),
        ("DATA FIN", 5, b""),
        ("DATA FIN", 7, b""),
        ("DATA", 1, SUCCESS),
        ("RST_STREAM", 1, spdy.CANCEL),
        ("RST_STREAM", 3, spdy.CANCEL),
        ("GOAWAY", 7, 0),
    ]


async def test_spdy_exec_client_leaving_early_gets_a_hang_up(
    fake_cluster: FakeCluster, spdy_pod: str
) -> None:
    """upgrades#23: GOAWAY before any stream; the server sends nothing and closes."""
    client = await upgrade(fake_cluster, "POST", "exec", exec_query(ECHO), EXEC_OFFER)
    client.send(client.framer.goaway(0))
    assert await client.frames() == []


# ---- 4: port-forward -----------------------------------------------------------------------
def _pair(f: spdy.Framer, first: int, port: int, request_id: int) -> bytes:
    base = {"port": [str(port)], "requestid": [str(request_id)]}
    return (
        f.syn_stream(first, {**base, "streamtype": ["error"]})
        + f.data(first, b"", fin=True)
        + f.syn_stream(first + 2, {**base, "streamtype": ["data"]})
    )


async def test_spdy_portforward_frames_as_recorded(
    fake_cluster: FakeCluster, spdy_pod: str
) -> None:
    client = await upgrade(fake_cluster, "POST", "portforward", [], "portforward.k8s.io")
    assert client.headers[-1] == ("X-Stream-Protocol-Version", "portforward.k8s.io")
    f = client.framer
    request = b"GET /index.html HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n"
    client.send(_pair(f, 1, 8080, 0) + f.data(3, request) + f.data(3, b"", fin=True))
    got = summary(await client.frames_until(lambda fs: any(x.fin and x.stream == 1 for x in fs)))
    assert got[:2] == [("SYN_REPLY", 1, 0), ("SYN_REPLY", 3, 0)]
    body = b"".join(
        p for kind, sid, p in got if kind == "DATA" and sid == 3 and isinstance(p, bytes)
    )
    assert body.startswith(b"HTTP/1.1 200 OK") and body.endswith(b"hello\n")
    assert got[-2:] == [("DATA FIN", 3, b""), ("DATA FIN", 1, b"")]

    client.send(_pair(f, 5, 9999, 1))  # nothing listens: kubectl#89
    got = summary(await client.frames_until(lambda fs: any(x.fin and x.stream == 5 for x in fs)))
    assert got[:3] == [("SYN_REPLY", 5, 0), ("SYN_REPLY", 7, 0), ("DATA FIN", 7, b"")]
    kind, sid, text = got[3]
    assert (kind, sid) == ("DATA", 5)
    assert isinstance(text, bytes) and text.startswith(b"error forwarding port 9999 to pod ")
    assert b"dial tcp4 127.0.0.1:9999: connect: connection refused" in text
    assert got[4:] == [("DATA FIN", 5, b"")]

    client.send(f.goaway(0))
    assert summary(await client.frames()) == [("GOAWAY", 7, 0)]


# ---- 5: the real kubectl -------------------------------------------------------------------
def _kubectl(
    cluster: FakeCluster, cache: Path, *args: str, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    # a cache of its own: kubectl-dispatcher caches the server version per host:port
    env = dict(os.environ, KUBECONFIG=str(cluster.kubeconfig), KUBECACHEDIR=str(cache))
    return subprocess.run(
        ["kubectl", "--context", cluster.context, "-n", NS, *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=60,
    )


def test_kubectl_1_28_execs_over_spdy(
    fake_cluster: FakeCluster, spdy_pod: str, tmp_path: Path
) -> None:
    version = _kubectl(fake_cluster, tmp_path, "version")
    assert b"Client Version: v1.28." in version.stdout  # the dispatcher picked kubectl 1.28
    piped = _kubectl(fake_cluster, tmp_path, "exec", "-i", "web", "--", "cat", stdin=b"piped\n")
    assert (piped.returncode, piped.stdout) == (0, b"piped\n"), piped.stderr
    failed = _kubectl(fake_cluster, tmp_path, "exec", "web", "--", *ECHO)
    assert (failed.returncode, failed.stdout) == (7, b"out\n")
    assert failed.stderr == b"err\ncommand terminated with exit code 7\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_kubectl_1_28_port_forwards_over_spdy(
    fake_cluster: FakeCluster, spdy_pod: str, tmp_path: Path
) -> None:
    port = _free_port()
    env = dict(os.environ, KUBECONFIG=str(fake_cluster.kubeconfig), KUBECACHEDIR=str(tmp_path))
    args = ["kubectl", "--context", fake_cluster.context, "-n", NS, "port-forward"]
    proc = subprocess.Popen(
        [*args, "pod/web", f"{port}:8080"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "Forwarding from 127.0.0.1:<port> -> 8080"
        assert f"127.0.0.1:{port} -> 8080".encode() in line, line
        bodies = []
        for _ in range(2):  # one SPDY stream pair per connection
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as r:
                bodies.append(r.read())
        assert bodies == [b"hello\n", b"hello\n"]
        assert proc.poll() is None
    finally:
        proc.terminate()
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def test_spdy_exec_tty_waits_for_resize_and_applies_it(
    fake_cluster: FakeCluster, spdy_pod: str
) -> None:
    """With a tty, v4 also expects a ``resize`` stream; its JSON sizes reach the terminal."""
    cmd = ["sh", "-c", "sleep 1; stty size"]
    query = [("command", c) for c in cmd] + [("container", "web"), ("stdout", "true")]
    query += [("tty", "true")]
    client = await upgrade(fake_cluster, "POST", "exec", query, "v4.channel.k8s.io")
    f = client.framer
    for sid, kind in ((1, "error"), (3, "stdout"), (5, "resize")):
        client.send(f.syn_stream(sid, {"streamtype": [kind]}))
    client.send(f.data(5, b'{"Width":100,"Height":30}'))
    got = summary(await client.frames())
    output = b"".join(
        p for kind, sid, p in got if kind == "DATA" and sid == 3 and isinstance(p, bytes)
    )
    assert output == b"30 100\r\n"
    assert ("DATA", 1, SUCCESS) in got
