"""Conformance of the fake's exec and port-forward upgrades with a real API server.

Every fact below was seen on a real Kubernetes 1.28.7 API server (containerd streaming
server behind the kubelet) and is cited as ``flow#seq`` of the wire transcripts
(``kube-wire/real-1.28.7/<flow>.jsonl``; SUMMARY.md "Facts a fake API server most likely
gets wrong" 1-6). The expected bodies are copied from those records, so this file needs no
transcript to run. Requests are raw (a TLS socket for exact headers and bodies, aiohttp for
WebSocket frames), never loopdev's own client; the last tests then run loopdev's exec and
port-forward and the official Python client against the fake claiming 1.28 (v4) and 1.31
(v5).

Facts (exec unless marked port-forward):
 1. A WebSocket upgrade must be GET: POST gets 405, body ``bad method``, no Content-Type, no
    Content-Length, ``Connection: close``, for every subprotocol list (upgrades#8-14) and for
    port-forward (upgrades#36-42).
 2. 1.28 negotiates the client's first of v4.channel.k8s.io, v4.base64.channel.k8s.io,
    channel.k8s.io, base64.channel.k8s.io (upgrades#1, #2, #4-6); none offered -> 101 with an
    empty Sec-WebSocket-Protocol header (#7); ``[v5]`` alone -> 403, empty body (#3).
    From 1.30 (TranslateStreamCloseWebsocketRequests on by default) v5 is negotiated.
 3. v4 frames: an empty frame on channel 1 first, output, one Go-JSON status on channel 3,
    close 1000 (#1, #2, #16); channel.k8s.io and no protocol: plain-text status (#5, #7);
    base64 protocols: text frames "<digit><base64>" (#4, #6). v4 stdin is read as sent and
    ends only with the connection (#15: ``head -c 6``).
 4. Failures: missing binary -> 101, InternalError 500 status, no output (#17); no command ->
    101, InternalError ``args must not be empty`` (#21); ``container=nope`` -> 400 JSON Status
    before the upgrade, GET or POST (#18, #19); missing pod -> 404 JSON Status (#20); no
    stdin/stdout/stderr -> 400 text/plain (#22); no Upgrade -> 400 JSON ``Upgrade request
    required`` (#27, #28; port-forward #52).
 5. Port-forward: v4.channel.k8s.io, v4.base64.channel.k8s.io or none are accepted (#29,
    #31, #33, #35); portforward.k8s.io, channel.k8s.io, SPDY/3.1+portforward.k8s.io -> 403
    empty (#30, #32, #34); preambles are the port little-endian on both channels (``kB8=``);
    missing ``ports`` -> 400 text ``query parameter "port" is required`` (#43, #44);
    ``ports=0`` -> 400 text (#47); missing pod -> 404 JSON (#48); a closed port -> 101, both
    preambles, the error text on the error channel, close 1000 (#45); two ports, one closed
    (#46).
 6. Refusals from the streaming server carry none of the API server's headers (no
    Content-Type on 403/405); the API server's own errors are ``application/json`` Status.
Not covered here: SPDY/3.1 (upgrades#23-26, #49-51; see test_fakekube_conformance_spdy.py,
which also runs the real kubectl 1.28 against the fake), the WebSocket-tunnelled SPDY
port-forward of 1.31+,
HTTP/2, Audit-Id and the other API-server-wide headers (fake-wide, not stream-specific), the
exact v5 status texts (no v5 server was recorded).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import kubernetes.client as k
import pytest

from loopdev.adapters.kube_exec import KubeExec
from loopdev.portforward.stream import DialError
from tests.fakekube import FakeCluster
from tests.support.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("server_version")]

NS = "conformance-streams"
ECHO = ["sh", "-c", "echo out; echo err >&2; exit 7"]
V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"
PROTOCOL_LISTS = [
    [V5, V4],
    [V4],
    [V5],
    ["v4.base64.channel.k8s.io"],
    ["channel.k8s.io"],
    ["base64.channel.k8s.io"],
    [],
]
PF_LISTS = [
    [V4, "portforward.k8s.io"],
    ["portforward.k8s.io"],
    [V4],
    ["SPDY/3.1+portforward.k8s.io"],
    ["v4.base64.channel.k8s.io"],
    ["channel.k8s.io"],
    [],
]
# upgrades#1 channel 3, byte for byte
STATUS_EXIT_7 = (
    b'{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code:'
    b" error executing command [sh -c echo out; echo err \\u003e\\u00262; exit 7], exit code 7"
    b'","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"7"}]}}'
)
TEXT_EXIT_7 = (  # upgrades#5, #7 channel 3
    b"command terminated with non-zero exit code: error executing command "
    b"[sh -c echo out; echo err >&2; exit 7], exit code 7"
)
SUCCESS = b'{"metadata":{},"status":"Success"}'  # upgrades#15, #16
PORT_8080 = base64.b64decode("kB8=")


# ---- the pod and raw requests ---------------------------------------------------------------
@pytest.fixture
def server_version(fake_cluster: FakeCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """Here every fact is a 1.28.7 fact unless a test names another version, whatever the
    session's claim (``FAKEKUBE_SERVER_VERSION``)."""
    before = fake_cluster.server_version
    fake_cluster.set_server_version(getattr(request, "param", "1.28"))
    yield fake_cluster.server_version
    fake_cluster.set_server_version(before)


@pytest.fixture(scope="module")
def web_pod(fake_cluster: FakeCluster, busybox_image: str) -> Iterator[str]:
    """Pod ``web`` (container ``web``) serving ``hello`` on 8080, like the recording's pod."""
    api = fake_cluster.api_client()
    core = k.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": NS}})
    script = "mkdir -p /www; echo hello > /www/index.html; exec httpd -f -p 8080 -h /www"
    core.create_namespaced_pod(
        NS,
        {
            "metadata": {"name": "web"},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": busybox_image,
                        "command": ["sh", "-c", script],
                        "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                    }
                ]
            },
        },
    )

    def ready() -> bool:
        pod = core.read_namespaced_pod("web", NS)
        return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])

    wait_for(ready, 60, what="pod web ready")
    yield "web"
    core.delete_namespace(NS)
    api.close()


@dataclass
class Raw:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


def _ssl(cluster: FakeCluster) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=cluster.ca_pem.decode())


def _path(kind: str, query: list[tuple[str, str]], pod: str = "web") -> str:
    return f"/api/v1/namespaces/{NS}/pods/{pod}/{kind}?{urlencode(query)}"


def _exec_query(cmd: list[str] = ECHO, container: str = "web", streams: bool = True) -> list:
    q = [("command", c) for c in cmd] + [("container", container)]
    return q + ([("stdout", "true"), ("stderr", "true")] if streams else [])


def _ws_headers(protocols: list[str] | None) -> dict[str, str]:
    """A client's upgrade headers; ``None`` = no upgrade at all."""
    if protocols is None:
        return {}
    headers = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
    }
    if protocols:
        headers["Sec-WebSocket-Protocol"] = ", ".join(protocols)
    return headers


async def raw(
    cluster: FakeCluster, method: str, path: str, headers: dict[str, str], read_101: bool = False
) -> Raw:
    """One HTTP/1.1 exchange over TLS; the body as sent (by length, or until the close)."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", cluster.port, ssl=_ssl(cluster), server_hostname="127.0.0.1"
    )
    try:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"Authorization: Bearer {cluster.token}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status_line, *header_lines = head.decode().split("\r\n")
        got = {}
        for line in filter(None, header_lines):
            name, _, value = line.partition(":")
            got[name.strip().lower()] = value.strip()
        status = int(status_line.split()[1])
        if status == 101:
            return Raw(status, got, b"")
        if "content-length" in got:
            body = await reader.readexactly(int(got["content-length"]))
        else:
            body = await asyncio.wait_for(reader.read(), 10)  # until the server closes
        return Raw(status, got, body)
    finally:
        writer.close()


@dataclass
class Session:
    protocol: str | None
    frames: list[tuple[str, bytes | str]]  # ("binary", b"\x01...") or ("text", "1...")
    close_code: int | None


async def converse(
    cluster: FakeCluster,
    path: str,
    protocols: list[str],
    send: list[bytes] = (),  # type: ignore[assignment]
    wait: float = 10.0,
) -> Session:
    """GET-upgrade, send binary frames, read every frame until the server closes."""
    frames: list[tuple[str, bytes | str]] = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"{cluster.url}{path}",
            protocols=protocols,
            ssl=_ssl(cluster),
            headers={"Authorization": f"Bearer {cluster.token}"},
            autoclose=False,
        ) as ws,
    ):
        for data in send:
            await ws.send_bytes(data)
        while True:
            msg = await asyncio.wait_for(ws.receive(), wait)
            if msg.type == aiohttp.WSMsgType.BINARY:
                frames.append(("binary", msg.data))
            elif msg.type == aiohttp.WSMsgType.TEXT:
                frames.append(("text", msg.data))
            else:
                code = ws.close_code if msg.type != aiohttp.WSMsgType.CLOSE else msg.data
                return Session(ws.protocol, frames, code)


def channels(frames: list[tuple[str, bytes | str]]) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for kind, data in frames:
        if kind == "binary":
            assert isinstance(data, bytes)
            ch, payload = data[0], data[1:]
        else:
            assert isinstance(data, str)
            ch, payload = int(data[0]), base64.b64decode(data[1:])
        out[ch] = out.get(ch, b"") + payload
    return out


def status_of(raw_: Raw) -> dict[str, Any]:
    assert raw_.headers.get("content-type", "").startswith("application/json"), raw_.headers
    body = json.loads(raw_.body)
    assert isinstance(body, dict)
    return body


# ---- 1. upgrades must be GET ---------------------------------------------------------------
@pytest.mark.parametrize("protocols", PROTOCOL_LISTS, ids=lambda p: ",".join(p) or "none")
async def test_post_exec_upgrade_is_405_bad_method(
    fake_cluster: FakeCluster, web_pod: str, protocols: list[str]
) -> None:
    """upgrades#8-14 (and loopdev-post#102: loopdev's own POST exec)."""
    got = await raw(fake_cluster, "POST", _path("exec", _exec_query()), _ws_headers(protocols))
    assert (got.status, got.body) == (405, b"bad method")
    assert got.headers.get("connection") == "close"
    assert "content-type" not in got.headers and "content-length" not in got.headers


@pytest.mark.parametrize("protocols", PF_LISTS, ids=lambda p: ",".join(p) or "none")
async def test_post_portforward_upgrade_is_405_bad_method(
    fake_cluster: FakeCluster, web_pod: str, protocols: list[str]
) -> None:
    """upgrades#36-42."""
    path = _path("portforward", [("ports", "8080")])
    got = await raw(fake_cluster, "POST", path, _ws_headers(protocols))
    assert (got.status, got.body) == (405, b"bad method")
    assert got.headers.get("connection") == "close" and "content-type" not in got.headers


# ---- 2. exec negotiation per claimed version ----------------------------------------------
@pytest.mark.parametrize(
    ("server_version", "offered", "negotiated"),
    [
        ("1.28", [V5, V4], V4),  # upgrades#1
        ("1.28", [V4], V4),  # upgrades#2
        ("1.28", [V5], None),  # upgrades#3: 403
        ("1.28", ["v4.base64.channel.k8s.io"], "v4.base64.channel.k8s.io"),  # upgrades#4
        ("1.28", ["channel.k8s.io"], "channel.k8s.io"),  # upgrades#5
        ("1.28", ["base64.channel.k8s.io"], "base64.channel.k8s.io"),  # upgrades#6
        ("1.28", [], ""),  # upgrades#7
        ("1.28", ["v3.channel.k8s.io"], None),  # not a WebSocket protocol of the kubelet
        ("1.29", [V5, V4], V4),  # v5 is alpha (off) in 1.29
        ("1.30", [V5, V4], V5),  # KEP-4006 beta: on by default
        ("1.31", [V5], V5),
        ("1.31", [V4], V4),
    ],
    indirect=["server_version"],
)
async def test_exec_negotiates_as_the_claimed_version(
    fake_cluster: FakeCluster,
    web_pod: str,
    server_version: str,
    offered: list[str],
    negotiated: str | None,
) -> None:
    got = await raw(fake_cluster, "GET", _path("exec", _exec_query()), _ws_headers(offered))
    if negotiated is None:
        assert (got.status, got.body) == (403, b"")
        assert "content-type" not in got.headers
        return
    assert got.status == 101
    assert got.headers.get("sec-websocket-protocol") == negotiated  # "" is sent, empty


@pytest.mark.parametrize("server_version", ["1.28", "1.32"], indirect=True)
async def test_version_endpoint_reports_the_claim(
    fake_cluster: FakeCluster, server_version: str
) -> None:
    got = await raw(fake_cluster, "GET", "/version", {})
    doc = json.loads(got.body)
    assert (doc["major"], doc["minor"]) == tuple(server_version.split("."))
    assert doc["gitVersion"].startswith(f"v{server_version}.")


# ---- 3. frames ------------------------------------------------------------------------------
async def test_v4_frames_empty_stdout_first_then_go_json_status(
    fake_cluster: FakeCluster, web_pod: str
) -> None:
    """upgrades#1: 0x01, out, err, the status byte for byte, close 1000."""
    s = await converse(fake_cluster, _path("exec", _exec_query()), [V5, V4])
    assert s.protocol == V4
    assert s.frames[0] == ("binary", b"\x01")
    assert channels(s.frames) == {1: b"out\n", 2: b"err\n", 3: STATUS_EXIT_7}
    assert s.frames[-1] == ("binary", b"\x03" + STATUS_EXIT_7)
    assert s.close_code == 1000


async def test_v4_success_status(fake_cluster: FakeCluster, web_pod: str) -> None:
    """upgrades#16: ``true`` -> 0x01 then the Success status."""
    s = await converse(fake_cluster, _path("exec", _exec_query(["true"])), [V5, V4])
    assert s.frames == [("binary", b"\x01"), ("binary", b"\x03" + SUCCESS)]


@pytest.mark.parametrize("protocols", [["channel.k8s.io"], []], ids=["channel.k8s.io", "none"])
async def test_v1_status_is_plain_text(
    fake_cluster: FakeCluster, web_pod: str, protocols: list[str]
) -> None:
    """upgrades#5, #7."""
    s = await converse(fake_cluster, _path("exec", _exec_query()), protocols)
    assert s.frames[0] == ("binary", b"\x01")
    assert channels(s.frames) == {1: b"out\n", 2: b"err\n", 3: TEXT_EXIT_7}


@pytest.mark.parametrize(
    ("protocol", "status"),
    [("v4.base64.channel.k8s.io", STATUS_EXIT_7), ("base64.channel.k8s.io", TEXT_EXIT_7)],
)
async def test_base64_protocols_use_text_frames(
    fake_cluster: FakeCluster, web_pod: str, protocol: str, status: bytes
) -> None:
    """upgrades#4, #6: text frames "<channel digit><base64>", the first is just "1"."""
    s = await converse(fake_cluster, _path("exec", _exec_query()), [protocol])
    assert s.frames[0] == ("text", "1")
    assert all(kind == "text" for kind, _ in s.frames)
    assert channels(s.frames) == {1: b"out\n", 2: b"err\n", 3: status}


async def test_v4_stdin_is_read_as_sent(fake_cluster: FakeCluster, web_pod: str) -> None:
    """upgrades#15: stdin without a close; ``head -c 6`` reads exactly what was sent."""
    query = _exec_query(["head", "-c", "6"]) + [("stdin", "true")]
    s = await converse(fake_cluster, _path("exec", query), [V5, V4], send=[b"\x00hello\n"])
    assert s.protocol == V4
    assert s.frames == [
        ("binary", b"\x01"),
        ("binary", b"\x01hello\n"),
        ("binary", b"\x03" + SUCCESS),
    ]


async def test_v4_ignores_the_v5_close_frame(fake_cluster: FakeCluster, web_pod: str) -> None:
    """On v4, channel 255 is no channel: ``cat`` keeps reading until the connection ends
    (a client relying on CLOSE over v4 would hang on a real server too)."""
    query = _exec_query(["cat"]) + [("stdin", "true")]
    with pytest.raises(TimeoutError):
        await converse(
            fake_cluster, _path("exec", query), [V5, V4], send=[b"\x00x", b"\xff\x00"], wait=1.5
        )


@pytest.mark.parametrize("server_version", ["1.31"], indirect=True)
async def test_v5_close_frame_ends_stdin(
    fake_cluster: FakeCluster, web_pod: str, server_version: str
) -> None:
    query = _exec_query(["cat"]) + [("stdin", "true")]
    s = await converse(fake_cluster, _path("exec", query), [V5, V4], send=[b"\x00x", b"\xff\x00"])
    assert s.protocol == V5
    assert s.frames == [("binary", b"\x01"), ("binary", b"\x01x"), ("binary", b"\x03" + SUCCESS)]


# ---- 4. exec failures ------------------------------------------------------------------------
async def test_missing_binary_is_internal_error_without_output(
    fake_cluster: FakeCluster, web_pod: str
) -> None:
    """upgrades#17."""
    s = await converse(fake_cluster, _path("exec", _exec_query(["/no/such/binary"])), [V5, V4])
    assert s.frames[0] == ("binary", b"\x01")
    assert set(channels(s.frames)) == {1, 3} and channels(s.frames)[1] == b""
    status = json.loads(channels(s.frames)[3])
    assert list(status) == ["metadata", "status", "message", "reason", "details", "code"]
    assert (status["reason"], status["code"]) == ("InternalError", 500)
    cause = (
        r"error executing command in container: failed to exec in container: failed to start "
        r'exec "[0-9a-f]{64}": OCI runtime exec failed: exec failed: unable to start container '
        r'process: exec: "/no/such/binary": stat /no/such/binary: no such file or directory: '
        r"unknown"
    )
    assert re.fullmatch(f"Internal error occurred: {cause}", status["message"])
    assert status["details"]["causes"] == [{"message": status["message"][25:]}]


async def test_no_command_is_internal_error_after_the_upgrade(
    fake_cluster: FakeCluster, web_pod: str
) -> None:
    """upgrades#21."""
    s = await converse(fake_cluster, _path("exec", _exec_query([])), [V5, V4])
    assert s.frames[0] == ("binary", b"\x01")
    status = json.loads(channels(s.frames)[3])
    assert (status["reason"], status["code"]) == ("InternalError", 500)
    assert status["message"].endswith(
        ": OCI runtime exec failed: exec failed: args must not be empty: unknown"
    )


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_unknown_container_is_400_status_before_the_upgrade(
    fake_cluster: FakeCluster, web_pod: str, method: str
) -> None:
    """upgrades#18, #19 (also kubectl#66/#67)."""
    path = _path("exec", _exec_query(container="nope"))
    got = await raw(fake_cluster, method, path, _ws_headers([V5, V4]))
    assert got.status == 400
    assert status_of(got) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "container nope is not valid for pod web",
        "reason": "BadRequest",
        "code": 400,
    }


@pytest.mark.parametrize("kind", ["exec", "portforward"])
async def test_missing_pod_is_404_status(
    fake_cluster: FakeCluster, web_pod: str, kind: str
) -> None:
    """upgrades#20, #48."""
    query = _exec_query() if kind == "exec" else [("ports", "8080")]
    got = await raw(fake_cluster, "GET", _path(kind, query, "no-such-pod"), _ws_headers([V5, V4]))
    assert got.status == 404
    assert status_of(got) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "no-such-pod" not found',
        "reason": "NotFound",
        "details": {"name": "no-such-pod", "kind": "pods"},
        "code": 404,
    }


async def test_no_streams_is_400_plain_text(fake_cluster: FakeCluster, web_pod: str) -> None:
    """upgrades#22."""
    path = _path("exec", _exec_query(streams=False))
    got = await raw(fake_cluster, "GET", path, _ws_headers([V5, V4]))
    assert (got.status, got.body) == (400, b"you must specify at least 1 of stdin, stdout, stderr")
    assert got.headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("kind", "method"), [("exec", "GET"), ("exec", "POST"), ("portforward", "GET")]
)
async def test_request_without_upgrade_is_400_status(
    fake_cluster: FakeCluster, web_pod: str, kind: str, method: str
) -> None:
    """upgrades#27, #28, #52."""
    query = _exec_query() if kind == "exec" else [("ports", "8080")]
    got = await raw(fake_cluster, method, _path(kind, query), {})
    assert got.status == 400
    assert status_of(got) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Upgrade request required",
        "reason": "BadRequest",
        "code": 400,
    }


# ---- 5. port-forward -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("offered", "negotiated"),
    [
        ([V4, "portforward.k8s.io"], V4),  # upgrades#29
        (["portforward.k8s.io"], None),  # upgrades#30
        ([V4], V4),  # upgrades#31
        (["SPDY/3.1+portforward.k8s.io"], None),  # upgrades#32
        (["v4.base64.channel.k8s.io"], "v4.base64.channel.k8s.io"),  # upgrades#33
        (["channel.k8s.io"], None),  # upgrades#34
        ([], ""),  # upgrades#35
        ([V5, V4], V4),  # pyclient#9: the Python client offers v5 first
    ],
    ids=lambda v: ",".join(v) if isinstance(v, list) else str(v),
)
async def test_portforward_protocols(
    fake_cluster: FakeCluster, web_pod: str, offered: list[str], negotiated: str | None
) -> None:
    path = _path("portforward", [("ports", "8080")])
    if negotiated is None:
        got = await raw(fake_cluster, "GET", path, _ws_headers(offered))
        assert (got.status, got.body) == (403, b"")
        assert "content-type" not in got.headers
        return
    request = b"GET /index.html HTTP/1.0\r\n\r\n"
    data = ("0" + base64.b64encode(request).decode()) if "base64" in negotiated else None
    if data is None:
        s = await converse(fake_cluster, path, offered, send=[b"\x00" + request])
        assert s.frames[:2] == [("binary", b"\x00" + PORT_8080), ("binary", b"\x01" + PORT_8080)]
    else:
        s = await _converse_text(fake_cluster, path, offered, data)
        assert s.frames[:2] == [("text", "0kB8="), ("text", "1kB8=")]
    assert (s.protocol or "") == negotiated
    got = channels(s.frames[2:])
    assert got[0].startswith(b"HTTP/1.") and got[0].endswith(b"hello\n")
    assert s.close_code == 1000


async def _converse_text(
    cluster: FakeCluster, path: str, protocols: list[str], text: str
) -> Session:
    frames: list[tuple[str, bytes | str]] = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"{cluster.url}{path}",
            protocols=protocols,
            ssl=_ssl(cluster),
            headers={"Authorization": f"Bearer {cluster.token}"},
            autoclose=False,
        ) as ws,
    ):
        await ws.send_str(text)
        async for msg in ws:
            frames.append(("text", msg.data))
        return Session(ws.protocol, frames, ws.close_code)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ([], 'query parameter "port" is required'),  # upgrades#43, #44
        ([("ports", "0")], 'port "0" must be > 0'),  # upgrades#47
    ],
    ids=["no-ports", "port-0"],
)
@pytest.mark.parametrize(
    "offered", [[V4, "portforward.k8s.io"], ["SPDY/3.1+portforward.k8s.io"]], ids=["v4", "tunnel"]
)
async def test_portforward_bad_ports_are_400_text(
    fake_cluster: FakeCluster, web_pod: str, query: list, text: str, offered: list[str]
) -> None:
    got = await raw(fake_cluster, "GET", _path("portforward", query), _ws_headers(offered))
    assert (got.status, got.body.decode()) == (400, text)
    assert got.headers["content-type"] == "text/plain; charset=utf-8"


async def test_portforward_to_a_closed_port(fake_cluster: FakeCluster, web_pod: str) -> None:
    """upgrades#45: 101, both preambles (9999 = ``Dyc=``), the error text, close 1000."""
    s = await converse(fake_cluster, _path("portforward", [("ports", "9999")]), [V4])
    port = (9999).to_bytes(2, "little")
    assert s.frames[:2] == [("binary", b"\x00" + port), ("binary", b"\x01" + port)]
    assert len(s.frames) == 3 and s.frames[2][1][:1] == b"\x01"
    text = bytes(s.frames[2][1][1:]).decode()
    assert re.fullmatch(
        r"error forwarding port 9999 to pod [0-9a-f]{64}, uid : failed to execute portforward in "
        r'network namespace "/var/run/netns/cni-[0-9a-f-]{36}": failed to connect to '
        r'localhost:9999 inside namespace "[0-9a-f]{64}", IPv4: dial tcp4 127.0.0.1:9999: '
        r"connect: connection refused IPv6 dial tcp6: address localhost: no suitable address "
        r"found ",
        text,
    )
    assert s.close_code == 1000


async def test_portforward_two_ports_one_closed(fake_cluster: FakeCluster, web_pod: str) -> None:
    """upgrades#46: all four preambles first, the closed port's error on channel 3, the open
    port still serves."""
    path = _path("portforward", [("ports", "8080"), ("ports", "9999")])
    s = await converse(fake_cluster, path, [V4], send=[b"\x00GET /index.html HTTP/1.0\r\n\r\n"])
    closed = (9999).to_bytes(2, "little")
    assert s.frames[:4] == [
        ("binary", b"\x00" + PORT_8080),
        ("binary", b"\x01" + PORT_8080),
        ("binary", b"\x02" + closed),
        ("binary", b"\x03" + closed),
    ]
    got = channels(s.frames[4:])
    assert got[3].startswith(b"error forwarding port 9999 to pod ")
    assert got[0].endswith(b"hello\n")


# ---- loopdev's own exec and port-forward, the official client --------------------------------
@pytest.fixture
async def kexec(fake_cluster: FakeCluster) -> AsyncIterator[KubeExec]:
    wire = await KubeExec.connect(fake_cluster.context, str(fake_cluster.kubeconfig))
    yield wire
    await wire.close()


@pytest.mark.parametrize(
    ("server_version", "protocol"), [("1.28", V4), ("1.31", V5)], indirect=["server_version"]
)
async def test_loopdev_exec_upgrades_with_get_and_negotiates_per_version(
    fake_cluster: FakeCluster, web_pod: str, kexec: KubeExec, server_version: str, protocol: str
) -> None:
    """The real-cluster bug (issue 13): loopdev's exec was a POST upgrade, which a real
    server refuses with 405; the fake now refuses it too, so this fails on a POST."""
    before = len(fake_cluster.requests())
    res = await kexec.exec(NS, "web", "web", ["head", "-c", "6"], stdin=b"hello\nnot this")
    assert (res.exit_code, res.stdout, res.protocol) == (0, b"hello\n", protocol)
    res = await kexec.exec(NS, "web", "web", ECHO)
    assert (res.exit_code, res.stdout, res.stderr) == (7, b"out\n", b"err\n")
    execs = [r for r in fake_cluster.requests()[before:] if r.path.endswith("/exec")]
    assert [r.method for r in execs] == ["GET", "GET"]


async def test_loopdev_reports_refused_exec_in_the_servers_words(
    fake_cluster: FakeCluster, web_pod: str, kexec: KubeExec
) -> None:
    res = await kexec.exec(NS, "web", "nope", ["true"])
    assert (
        res.message == "exec refused: HTTP 400 Bad Request: container nope is not valid for pod web"
    )
    res = await kexec.exec(NS, "gone", "web", ["true"])
    assert res.message == 'exec refused: HTTP 404 Not Found: pods "gone" not found'
    kexec.protocols = (V5,)  # what a 1.28 server cannot serve (upgrades#3)
    res = await kexec.exec(NS, "web", "web", ["true"])
    assert res.message == (
        "exec refused: HTTP 403 Forbidden: the server accepts none of the offered subprotocols"
    )
    res = await kexec.exec(NS, "web", "web", ["/no/such/binary"])
    assert res.exit_code == -1


async def test_loopdev_would_see_why_a_post_upgrade_fails(
    fake_cluster: FakeCluster, web_pod: str, kexec: KubeExec
) -> None:
    """A POST upgrade through loopdev's session is refused with 405 and says why."""
    url = f"{fake_cluster.url}{_path('exec', _exec_query())}"
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await kexec._http().ws_connect(
            url, method="POST", protocols=(V5, V4), headers=await kexec._headers()
        )
    assert err.value.status == 405
    assert err.value.message == (
        "405 Method Not Allowed: the server accepts WebSocket upgrades only as GET"
    )


@pytest.mark.parametrize("server_version", ["1.28", "1.31"], indirect=True)
async def test_loopdev_portforward(
    fake_cluster: FakeCluster, web_pod: str, kexec: KubeExec, server_version: str
) -> None:
    stream = await kexec.dial(NS, "web", 8080, timeout=10)
    await stream.write(b"GET /index.html HTTP/1.0\r\n\r\n")
    body = b""
    while chunk := await stream.read():
        body += chunk
    await stream.close()
    assert body.endswith(b"hello\n")
    closed = await kexec.dial(NS, "web", 9999, timeout=10)
    assert (await closed.check(5) or "").startswith("error forwarding port 9999 to pod ")
    await closed.close()
    with pytest.raises(DialError, match=r'HTTP 404 Not Found: pods "gone" not found'):
        await kexec.dial(NS, "gone", 8080, timeout=10)


@pytest.mark.parametrize(
    ("server_version", "protocol"), [("1.28", V4), ("1.31", V5)], indirect=["server_version"]
)
def test_official_client_exec_and_portforward(
    fake_cluster: FakeCluster, web_pod: str, server_version: str, protocol: str
) -> None:
    """pyclient#5-10: ``stream()`` offers v5,v4; ``portforward()`` offers the same list."""
    from kubernetes.stream import portforward, stream

    api = fake_cluster.api_client()
    v1 = k.CoreV1Api(api)
    try:
        out = stream(
            v1.connect_get_namespaced_pod_exec, "web", NS, command=ECHO, stderr=True, stdout=True
        )
        assert sorted(out.splitlines()) == ["err", "out"]  # one mixed stream, any order
        resp = stream(
            v1.connect_get_namespaced_pod_exec,
            "web",
            NS,
            command=["head", "-c", "6"],
            stdin=True,
            stdout=True,
            stderr=True,
            _preload_content=False,
        )
        assert resp.subprotocol == protocol
        resp.write_stdin("hello\n")
        resp.close_channel(0)  # a no-op on v4: head -c ends the read
        resp.run_forever(timeout=10)
        assert (resp.returncode, resp.read_stdout()) == (0, "hello\n")
        resp.close()
        with pytest.raises(k.ApiException, match="400"):
            stream(
                v1.connect_get_namespaced_pod_exec,
                "web",
                NS,
                command=["true"],
                container="nope",
                stdout=True,
            )

        pf = portforward(v1.connect_get_namespaced_pod_portforward, "web", NS, ports="8080")
        sock = pf.socket(8080)
        sock.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
        body = b""
        while chunk := sock.recv(4096):
            body += chunk
        pf.close()
        assert body.endswith(b"hello\n")
    finally:
        api.close()
