"""Replay real API-server transcripts (``shared/kube-wire/real-*/<flow>.jsonl``) against the fake.

Each flow is replayed in ``seq`` order: the first record of every distinct exchange kind plus
every mutating request (every record for ``upgrades``), with the recorded method, path, query,
headers and body. What is compared is what a client acts on: the status, the negotiated
upgrade protocol and the body's shape (``kind``, and ``status``/``reason``/``code`` of a
Status; a text error vs. a JSON one). Adaptations (README "The replay against the fake"):
recorded pod names map to the fake's pod of the same workload; watch resourceVersions other
than 0/1 become the fake's current one; ``If-None-Match`` carries the fake's own ETag;
watches, followed logs and upgraded connections are closed once their head is read.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

Record = dict[str, Any]
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
FLOW_ORDER = ("discovery", "kubectl", "kubectl-dispatcher", "pyclient", "upgrades")
LOOPDEV_FLOWS = ("loopdev-get", "loopdev-post")
DROP_HEADERS = {"host", "content-length", "authorization", "accept-encoding", "connection"}
POD_NAME = re.compile(r"^(?P<owner>.+)-(?P<hash>[a-z0-9]{8,10})-[a-z0-9]{5}$")


def load(path: Path) -> list[Record]:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted(records, key=lambda r: r["seq"])


def _pattern(path: str) -> str:
    """``/api/v1/namespaces/{ns}/pods/{name}/exec`` and the like."""
    parts = path.split("/")
    out = list(parts)
    for i in range(1, len(parts)):
        if parts[i - 1] == "namespaces":
            out[i] = "{ns}"
        elif i >= 3 and parts[i - 3] == "namespaces":
            out[i] = "{name}"
    return "/".join(out)


def _flags(rec: Record) -> tuple[str, ...]:
    q = rec.get("query") or {}
    keys = ("watch", "follow", "dryRun", "previous", "container", "ports", "resourceVersionMatch")
    flags = [k for k in keys if k in q]
    if q.get("resourceVersion") == ["1"]:
        flags.append("rv=1")
    return tuple(flags)


def accept_family(accept: str) -> str:
    for word in ("as=Table", "as=PartialObjectMetadata", "apidiscovery", "protobuf"):
        if word in accept:
            return word
    return "json"


def exchange_kind(rec: Record) -> tuple[Any, ...]:
    h = rec.get("req_headers") or {}
    up = rec.get("upgrade") or {}
    return (
        rec["method"],
        _pattern(rec["path"]),
        _flags(rec),
        up.get("requested", ""),
        tuple(up.get("offered_protocols") or ()),
        h.get("Content-Type", ""),
        accept_family(h.get("Accept", "")),
        rec["status"],
    )


def select(flow: str, records: list[Record]) -> list[Record]:
    """The records to replay: full (non-compact) ones, one per exchange kind + every write."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for rec in records:
        if "repeat_of" in rec:
            continue
        kind = exchange_kind(rec)
        if flow == "upgrades" or rec["method"] in MUTATING or kind not in seen:
            seen.add(kind)
            out.append(rec)
    return out


# ---- shapes ------------------------------------------------------------------------------
PB_KIND = re.compile(r"^protobuf \d+ bytes \((?:\S*\s)?(?P<kind>\w+)\)$")


@dataclass(frozen=True)
class Shape:
    """What a client acts on in one answer."""

    status: int
    protocol: str = ""
    body: tuple[Any, ...] = ()

    def matches(self, fake: Shape) -> bool:
        """A protobuf Status was recorded by kind only: compare that much of the fake's."""
        if self.body == ("Status",):
            return (self.status, self.protocol, fake.body[:1]) == (
                fake.status,
                fake.protocol,
                ("Status",),
            )
        return self == fake

    def __str__(self) -> str:
        proto = f" {self.protocol}" if self.protocol else ""
        return f"{self.status}{proto} {' '.join(str(b) for b in self.body if b is not None)}"


def body_shape(status: int, body: Any, content_type: str) -> tuple[Any, ...]:
    if status == 101:
        return ()
    if isinstance(body, dict):
        if body.get("kind") == "Status":
            return ("Status", body.get("status"), body.get("reason"), body.get("code"))
        return (body.get("kind"),) if body.get("kind") else ("object",)
    if isinstance(body, str):
        match = PB_KIND.match(body)
        if match:
            kind = match["kind"]
            return (kind,) if kind != "Status" else ("Status",)
        if body.startswith("protobuf "):
            return ("object",)
        if "json" not in content_type and 400 <= status:
            return ("text",)
    return ()


def real_shape(rec: Record) -> Shape:
    up = rec.get("upgrade") or {}
    ctype = (rec.get("resp_headers") or {}).get("Content-Type", "")
    shape = body_shape(rec["status"], rec.get("resp_body"), ctype)
    if rec["status"] < 400 and ("text" in ctype or shape == ("object",)):
        shape = ()  # logs, openapi documents: contents are not compared
    events = (rec.get("stream") or {}).get("events") or []
    if events and events[0].get("type") == "ERROR":
        obj = events[0].get("object") or {}
        shape = ("ERROR", obj.get("reason"), obj.get("code"))
    return Shape(rec["status"], up.get("negotiated") or "" if rec["status"] == 101 else "", shape)


# ---- the wire ------------------------------------------------------------------------------
@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    first_line: bytes = b""


@dataclass
class Wire:
    """Raw HTTP/1.1 over TLS to the fake: upgrades and streams need the socket itself."""

    host: str
    port: int
    token: str
    ssl_context: ssl.SSLContext
    timeout: float = 10.0

    def send(
        self, method: str, target: str, headers: dict[str, str], body: bytes, stream: bool
    ) -> Answer:
        raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
        with self.ssl_context.wrap_socket(raw, server_hostname=self.host) as sock:
            lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            lines.append(f"Authorization: Bearer {self.token}")
            if "Upgrade" not in headers:
                lines.append("Connection: close")
            if body or method in MUTATING:
                lines.append(f"Content-Length: {len(body)}")
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            return _read_answer(sock, stream)


def _read_answer(sock: ssl.SSLSocket, stream: bool) -> Answer:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split()[1])
    headers = {}
    for line in header_lines:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    if status == 101 or status == 304:
        return Answer(status, headers, b"")
    chunked = "chunked" in headers.get("transfer-encoding", "")
    if stream and status == 200:
        first = _first_stream_line(sock, rest, chunked)
        return Answer(status, headers, b"", first)
    length = headers.get("content-length")
    while length is None or len(rest) < int(length):
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ssl.SSLError, OSError):
            break
        if not chunk:
            break
        rest += chunk
    body = _dechunk(rest) if chunked else rest
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return Answer(status, headers, body)


def _first_stream_line(sock: ssl.SSLSocket, rest: bytes, chunked: bool) -> bytes:
    """The first event of a watch (or until the server ends it / 2 s pass)."""
    sock.settimeout(2.0)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        data = _dechunk(rest, partial=True) if chunked else rest
        if b"\n" in data:
            return data.split(b"\n", 1)[0]
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ssl.SSLError, OSError):
            break
        if not chunk:
            break
        rest += chunk
    return b""


def _dechunk(data: bytes, partial: bool = False) -> bytes:
    out = b""
    while data:
        size_line, sep, data = data.partition(b"\r\n")
        if not sep:
            break
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return out


def answer_shape(ans: Answer, streamed: bool) -> Shape:
    ctype = ans.headers.get("content-type", "")
    protocol = ans.headers.get("sec-websocket-protocol") or ans.headers.get(
        "x-stream-protocol-version", ""
    )
    if ans.status != 101:
        protocol = ""
    body: Any = None
    if streamed and ans.first_line.startswith(b"{"):
        event = json.loads(ans.first_line)
        obj = event.get("object") or {}
        if event.get("type") == "ERROR":
            return Shape(ans.status, "", ("ERROR", obj.get("reason"), obj.get("code")))
        return Shape(ans.status, "", ())
    if "json" in ctype and ans.body:
        try:
            body = json.loads(ans.body)
        except ValueError:
            body = None
    elif ans.body:
        body = ans.body.decode("utf-8", "replace")
    shape = body_shape(ans.status, body, ctype)
    if ans.status < 400 and ("text" in ctype or "json" not in ctype or shape == ("object",)):
        shape = ()
    return Shape(ans.status, protocol, shape)


# ---- adaptation -----------------------------------------------------------------------------
@dataclass
class Adapter:
    """Maps recorded names/versions onto the fake's (pods, resourceVersions, ETags)."""

    pods: Callable[[str], list[dict[str, Any]]]  # namespace -> the fake's pods
    current_rv: Callable[[], str]
    wait_s: float = 45.0
    notes: list[str] = field(default_factory=list)
    hashes: dict[tuple[str, str, str], str] = field(default_factory=dict)
    seq: str = ""

    def pod_name(self, ns: str, name: str) -> str:
        """The fake's pod for a recorded one: the same bare pod, or a Ready pod of the same
        workload whose ReplicaSet hash stands for the recorded one (rollouts map in order)."""
        if not _expected(name):
            return name
        owner = POD_NAME.match(name)
        key = (ns, owner["owner"], owner["hash"]) if owner else None
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline:
            for pod in self.pods(ns):
                pname = pod["metadata"]["name"]
                if not _ready(pod):
                    continue
                if pname == name:
                    return name
                theirs = POD_NAME.match(pname)
                if key is None or theirs is None or theirs["owner"] != key[1]:
                    continue
                mapped = self.hashes.get(key)
                if mapped == theirs["hash"] or (
                    mapped is None and theirs["hash"] not in self.hashes.values()
                ):
                    self.hashes[key] = theirs["hash"]
                    return str(pname)
            time.sleep(0.2)
        self.notes.append(f"no Ready pod in the fake for {ns}/{name} ({self.seq})")
        return name

    def target(self, rec: Record) -> str:
        path = rec["path"]
        parts = path.split("/")
        if "pods" in parts:
            i = parts.index("pods")
            creates = rec["method"] in MUTATING and i + 2 == len(parts)
            if creates and i + 1 < len(parts) and not POD_NAME.match(parts[i + 1]):
                pass  # a bare pod this very request applies or deletes: its name is its own
            elif i + 1 < len(parts) and i >= 2 and parts[i - 2] == "namespaces":
                parts[i + 1] = self.pod_name(parts[i - 1], parts[i + 1])
        query = {k: list(v) for k, v in (rec.get("query") or {}).items()}
        rv = query.get("resourceVersion")
        if "watch" in query and rv and rv[0] not in ("0", "1"):
            query["resourceVersion"] = [self.current_rv()]
        encoded = urlencode([(k, v) for k, vs in query.items() for v in vs], quote_via=quote)
        return quote("/".join(parts)) + (f"?{encoded}" if encoded else "")


def _ready(pod: dict[str, Any]) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def _expected(name: str) -> bool:
    """Names the transcripts use for pods that never existed are left as they are."""
    return not name.startswith(("no-such", "nope", "foo"))


def request_body(rec: Record) -> bytes:
    if rec.get("req_body_b64"):
        return base64.b64decode(rec["req_body_b64"])
    body = rec.get("req_body")
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def request_headers(rec: Record) -> dict[str, str]:
    out = {}
    for key, value in (rec.get("req_headers") or {}).items():
        if key.lower() in DROP_HEADERS:
            continue
        out[key] = ", ".join(value) if isinstance(value, list) else str(value)
    if "Upgrade" in out:
        out["Connection"] = "Upgrade"
    return out


def is_stream_path(path: str) -> bool:
    """exec / attach / port-forward: the streaming subresources (upgrade handshakes)."""
    return path.rsplit("/", 1)[-1] in ("exec", "attach", "portforward")


def is_streamed(rec: Record) -> bool:
    q = rec.get("query") or {}
    return (q.get("watch", [""])[0] in ("true", "1")) or q.get("follow") == ["true"]


def replay(
    flow: str, records: list[Record], wire: Wire, adapter: Adapter
) -> Iterator[tuple[Record, Shape, Shape]]:
    """(record, real shape, fake shape) for every replayed record, in order."""
    deleted: set[str] = set()
    for rec in select(flow, records):
        headers = request_headers(rec)
        adapter.seq = f"{flow}#{rec['seq']}"
        target = adapter.target(rec)
        for ask, tell in (("If-None-Match", "etag"), ("If-Modified-Since", "last-modified")):
            if ask in headers:  # revalidate against the fake's own validator, not the rig's
                probe = {k: v for k, v in headers.items() if k != ask}
                first = wire.send(rec["method"], target, probe, b"", False)
                headers[ask] = first.headers.get(tell, "")
        streamed = is_streamed(rec)
        ans = wire.send(rec["method"], target, headers, request_body(rec), streamed)
        if rec["method"] == "DELETE":
            deleted.add(rec["path"])
        deadline = time.monotonic() + adapter.wait_s
        while (
            rec["method"] == "GET"
            and rec["status"] == 404
            and rec["path"] in deleted
            and ans.status != 404
            and time.monotonic() < deadline
        ):  # the real client saw it gone: wait until the fake agrees (graceful deletes)
            time.sleep(0.2)
            ans = wire.send(rec["method"], target, headers, b"", streamed)
        yield rec, real_shape(rec), answer_shape(ans, streamed)
