"""pods/exec and pods/log: WebSocket channel protocols and Docker log streaming.

Exec answers as the version the fake claims (``version.py``) and as the real 1.28.7 server
did on the wire (``upgrades.jsonl``; the checks are in the order the real components make
them, see ``wire.py``): 101 only for a GET upgrade with an accepted subprotocol; then an
empty frame on the lowest writable channel, output, and one status on channel 3 (Go JSON on
v4/v5, plain text on the older protocols), then close 1000.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

import docker.errors
from aiohttp import WSMsgType, hdrs, web

from . import spdy_upgrade, wire
from .dockerstream import ExecStream
from .errors import ApiError, bad_request, invalid
from .kubelet import Kubelet
from .spdy_streams import serve_exec
from .version import ServerVersion, negotiate, offered_protocols

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
V5 = "v5.channel.k8s.io"
START_FAILED = b"OCI runtime exec failed"  # Docker's words when the process never started


def pick_container(pod: dict[str, Any], wanted: str | None, for_logs: bool = False) -> str:
    names = [c["name"] for c in pod["spec"]["containers"]]
    names += [c["name"] for c in pod["spec"].get("initContainers") or []]
    pname = pod["metadata"]["name"]
    if wanted:
        if wanted not in names:
            raise bad_request(f"container {wanted} is not valid for pod {pname}")
        return wanted
    default = (pod["metadata"].get("annotations") or {}).get(
        "kubectl.kubernetes.io/default-container"
    )
    if default in names:
        return str(default)
    main = [c["name"] for c in pod["spec"]["containers"]]
    if len(main) > 1 and for_logs:
        raise bad_request(
            f"a container name must be specified for pod {pname}, choose one of: [{' '.join(main)}]"
        )
    return main[0]


def exit_status(code: int, cmd: list[str], proto: str = "v4.channel.k8s.io") -> dict[str, Any]:
    """The error-channel Status when an exec ends (upgrades#1, #16).

    On v5 the API server's stream translator rebuilds it from the SPDY client's error, so
    the message nests that error's words (Go source of 1.30's StreamTranslatorProxy; no v5
    exec was recorded, the 1.28 server has none)."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    if proto == V5:
        text = (
            f"command terminated with non-zero exit code: command terminated with exit code {code}"
        )
    else:
        text = nonzero_text(code, cmd)
    return {
        "metadata": {},
        "status": "Failure",
        "message": text,
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def log_options(q: Any, pod: str) -> tuple[int | None, float | None, int | None]:
    """(tailLines, since as epoch seconds, limitBytes) from a pods/log query, validated like
    the API server's ValidatePodLogOptions (422) and parsed like its query conversion (400).
    Both tail and since apply together, as in the kubelet: the last N lines, of which only
    those not older than since are sent."""

    def number(name: str) -> int | None:
        if name not in q:
            return None
        try:
            return int(q[name])
        except ValueError:
            raise bad_request(f'strconv.ParseInt: parsing "{q[name]}": invalid syntax') from None

    tail, seconds, limit = number("tailLines"), number("sinceSeconds"), number("limitBytes")
    since_time: float | None = None
    if "sinceTime" in q:
        try:
            since_time = datetime.fromisoformat(q["sinceTime"].replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise bad_request(
                f'parsing time "{q["sinceTime"]}" as "2006-01-02T15:04:05Z07:00": cannot parse'
            ) from None
    causes: list[tuple[str, str]] = []
    if tail is not None and tail < 0:
        causes.append(("tailLines", f"Invalid value: {tail}: must be greater than or equal to 0"))
    if limit is not None and limit < 1:
        causes.append(("limitBytes", f"Invalid value: {limit}: must be greater than 0"))
    if seconds is not None and since_time is not None:
        causes.append(
            ("", "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified")
        )
    elif seconds is not None and seconds < 1:
        causes.append(("sinceSeconds", f"Invalid value: {seconds}: must be greater than 0"))
    if causes:
        raise invalid("PodLogOptions", "", pod, causes)
    since = time.time() - seconds if seconds is not None else since_time
    return tail, since, limit


def nonzero_text(code: int, cmd: list[str]) -> str:
    return (
        f"command terminated with non-zero exit code: error executing command "
        f"{wire.go_argv(cmd)}, exit code {code}"
    )


def internal_error(cause: str) -> dict[str, Any]:
    """``apierrors.NewInternalError`` as the kubelet sends it for a failed start (#17, #21)."""
    text = f"error executing command in container: {cause}"
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {text}",
        "reason": "InternalError",
        "details": {"causes": [{"message": text}]},
        "code": 500,
    }


def start_failure(exec_id: str, runtime_text: str) -> dict[str, Any]:
    return internal_error(
        f'failed to exec in container: failed to start exec "{exec_id}": {runtime_text}'
    )


Resize = Callable[[dict[str, Any]], Awaitable[None]]


class ExecIO(Protocol):
    """Where an exec's output, status and input go: WebSocket channels or SPDY streams."""

    proto: str

    async def send(self, channel: int, data: bytes) -> None: ...
    async def status(self, doc: dict[str, Any]) -> None: ...
    async def end_output(self) -> None: ...
    async def pump_stdin(self, stream: ExecStream, resize: Resize) -> None: ...


class Channels:
    """Framing for the negotiated subprotocol (binary vs base64 text frames)."""

    def __init__(self, ws: web.WebSocketResponse, proto: str) -> None:
        self.ws = ws
        self.proto = proto
        self.b64 = "base64" in proto
        self.json_status = proto.startswith(("v4.", "v5."))  # v1-v3 send plain text

    async def send(self, channel: int, data: bytes) -> None:
        if self.ws.closed:
            return
        if self.b64:
            await self.ws.send_str(str(channel) + base64.b64encode(data).decode())
        else:
            await self.ws.send_bytes(bytes([channel]) + data)

    async def status(self, doc: dict[str, Any]) -> None:
        """The channel-3 status: JSON on v4/v5; v1 sends only a failure's message text."""
        if self.json_status:
            await self.send(ERROR, wire.go_json(doc))
        elif doc.get("status") != "Success":
            await self.send(ERROR, str(doc.get("message", "")).encode())

    async def end_output(self) -> None:
        """The output is over (SPDY closes its streams here; channels just stop)."""

    async def pump_stdin(self, stream: ExecStream, resize: Resize) -> None:
        """Client frames; only v5 can close stdin on its own (255 0), a v4 client's stdin
        ends with the connection (wsstream ignores channels it does not know)."""
        async for msg in self.ws:
            frame = self.decode(msg)
            if frame is None:
                continue
            channel, data = frame
            if channel == STDIN:
                await stream.write(data)
            elif channel == CLOSE and self.proto == V5 and data[:1] == b"\x00":
                stream.close_stdin()
            elif channel == RESIZE:
                with contextlib.suppress(ValueError):
                    await resize(json.loads(data))
        stream.close_stdin()

    def decode(self, msg: Any) -> tuple[int, bytes] | None:
        """(channel, payload) of a client frame. As in Go's wsstream the negotiated protocol
        picks the codec, not the frame type: the Python client sends str stdin as TEXT
        frames on ``v4.channel.k8s.io`` and they carry raw bytes."""
        if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT) or not msg.data:
            return None
        data = msg.data.encode() if isinstance(msg.data, str) else bytes(msg.data)
        if self.b64:
            return data[0] - ord("0"), base64.b64decode(data[1:])
        return data[0], data[1:]


async def accept_websocket(
    request: web.Request, accepted: tuple[str, ...]
) -> tuple[web.StreamResponse, Channels | None]:
    """The CRI streaming server's handshake: 405 unless GET, 403 unless a subprotocol fits,
    else 101 (with an empty ``Sec-WebSocket-Protocol`` when none was offered, #7/#35)."""
    if request.method != "GET":
        return await wire.bad_method(request), None
    proto = negotiate(
        offered_protocols(request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL, "")), accepted
    )
    if proto is None:
        return await wire.no_protocol(request), None
    ws = web.WebSocketResponse(protocols=(proto,) if proto else (), max_msg_size=0)
    if not proto:
        ws.headers[hdrs.SEC_WEBSOCKET_PROTOCOL] = ""
    await ws.prepare(request)
    return ws, Channels(ws, proto)


class PodStreams:
    def __init__(self, kubelet: Kubelet, version: Any) -> None:
        self.kubelet = kubelet
        self._version = version  # () -> ServerVersion: the claim may change while serving

    def _running(self, pod: dict[str, Any], name: str) -> str:
        worker = self.kubelet.worker(pod["metadata"]["uid"])
        cid = worker.running_id(name) if worker else None
        if cid is None:
            raise bad_request(f'unable to upgrade connection: container not found ("{name}")')
        return cid

    async def exec(self, request: web.Request, pod: dict[str, Any]) -> web.StreamResponse:
        q = request.query
        name = pick_container(pod, q.get("container"))  # API server: 400 JSON (#18, #19)
        wire.require_upgrade(request)  # API server: 400 JSON (#27, #28)
        cid = self._running(pod, name)
        flags = {k: q.get(k) in ("true", "1") for k in ("stdin", "stdout", "stderr", "tty")}
        if not (flags["stdin"] or flags["stdout"] or flags["stderr"]):  # kubelet: text (#22)
            return wire.kubelet_text(400, "you must specify at least 1 of stdin, stdout, stderr")
        if not wire.is_websocket(request):  # SPDY/3.1 (upgrades#23-26)
            proto = spdy_upgrade.negotiate(request, spdy_upgrade.EXEC_PROTOCOLS, exec_=True)
            if isinstance(proto, web.StreamResponse):
                return proto
            cmd = q.getall("command", [])
            return await serve_exec(
                request, proto, flags, lambda io: self._run(io, cid, cmd, flags)
            )
        version: ServerVersion = self._version()
        resp, chans = await accept_websocket(request, version.exec_protocols())
        if chans is None:
            return resp
        ws = chans.ws
        first = STDOUT if flags["stdout"] else STDERR if flags["stderr"] else ERROR
        await chans.send(first, b"")  # "the connection is established" (#1, #4, #5, #7)
        try:
            await self._run(chans, cid, q.getall("command", []), flags)
        except ConnectionResetError:
            pass  # the client hung up before the command finished
        finally:
            await ws.close()
        return ws

    async def _run(self, chans: ExecIO, cid: str, cmd: list[str], flags: dict[str, bool]) -> None:
        if not cmd:  # the runtime refuses it after the upgrade (#21)
            exec_id = secrets.token_hex(32)
            runtime = "OCI runtime exec failed: exec failed: args must not be empty: unknown"
            await chans.status(start_failure(exec_id, runtime))
            return
        client = self.kubelet.client
        try:
            exec_id = (
                await self.kubelet.call(
                    client.api.exec_create,
                    cid,
                    cmd,
                    stdin=flags["stdin"],
                    stdout=flags["stdout"],
                    stderr=flags["stderr"],
                    tty=flags["tty"],
                )
            )["Id"]
        except docker.errors.APIError as exc:  # the container went away after the upgrade
            await chans.status(internal_error(f"failed to exec in container: {exc.explanation}"))
            return
        stream = await ExecStream.open(exec_id, flags["tty"])
        pump_in = asyncio.ensure_future(
            chans.pump_stdin(stream, lambda size: self._resize(exec_id, size))
        )
        held = b""  # Docker prints a failed start on stdout; the kubelet reports a status
        try:
            async for channel, data in stream.frames():
                if channel == STDOUT and (held or data.startswith(START_FAILED)):
                    held += data
                    continue
                await chans.send(channel, data)
            info = await self.kubelet.call(client.api.exec_inspect, exec_id)
            if held and not info.get("Pid"):
                text = held.decode(errors="replace").strip()
                await chans.status(start_failure(exec_id, text))
                return
            if held:
                await chans.send(STDOUT, held)
            await chans.end_output()
            await chans.status(exit_status(int(info.get("ExitCode") or 0), cmd, chans.proto))
        finally:
            pump_in.cancel()
            await asyncio.gather(pump_in, return_exceptions=True)
            stream.close()

    async def _resize(self, exec_id: str, size: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):
            await self.kubelet.call(
                self.kubelet.client.api.exec_resize,
                exec_id,
                height=size.get("Height"),
                width=size.get("Width"),
            )

    async def log(self, request: web.Request, pod: dict[str, Any]) -> web.StreamResponse:
        q = request.query
        name = pick_container(pod, q.get("container"), for_logs=True)
        current, previous = self.kubelet.container_ids(pod["metadata"]["uid"], name)
        pname = pod["metadata"]["name"]
        if q.get("previous") in ("true", "1"):
            if previous is None:
                raise bad_request(
                    f'previous terminated container "{name}" in pod "{pname}" not found'
                )
            cid = previous
        elif current is None:
            reason = "ContainerCreating"
            for cs in (pod.get("status") or {}).get("containerStatuses") or []:
                if cs["name"] == name:
                    reason = cs.get("state", {}).get("waiting", {}).get("reason", reason)
            raise bad_request(f'container "{name}" in pod "{pname}" is waiting to start: {reason}')
        else:
            cid = current
        kwargs: dict[str, Any] = {
            "stdout": True,
            "stderr": True,
            "stream": True,
            "follow": q.get("follow") in ("true", "1"),
            "timestamps": q.get("timestamps") in ("true", "1"),
        }
        tail, since, limit = log_options(q, pname)
        if tail is not None:
            kwargs["tail"] = tail  # like the kubelet: the last N lines, then the since filter
        if since is not None:
            kwargs["since"] = since
        return await self._stream_logs(request, cid, kwargs, limit)

    async def _stream_logs(
        self, request: web.Request, cid: str, kwargs: dict[str, Any], limit: int | None
    ) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        try:
            gen = await self.kubelet.call(self.kubelet.client.api.logs, cid, **kwargs)
        except Exception as exc:  # noqa: BLE001 - container vanished between lookup and read
            raise ApiError(400, "BadRequest", f"unable to retrieve container logs: {exc}") from exc

        def pump() -> None:
            try:
                for chunk in gen:
                    loop.call_soon_threadsafe(queue.put_nowait, chunk)
            except Exception:  # noqa: BLE001 - closed under us on disconnect
                pass
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        fut = asyncio.ensure_future(self.kubelet.call_unbounded(pump))
        sent = 0
        try:
            while (chunk := await queue.get()) is not None:
                if limit is not None:
                    chunk = chunk[: max(limit - sent, 0)]
                await resp.write(chunk)
                sent += len(chunk)
                if limit is not None and sent >= limit:
                    break
            await resp.write_eof()
        except ConnectionResetError:
            pass  # the client stopped following
        finally:
            with contextlib.suppress(Exception):
                gen.close()
            await asyncio.wait([fut], timeout=2)
        return resp
