"""pods/exec and pods/log: WebSocket channel protocols and Docker log streaming."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from datetime import datetime
from typing import Any

from aiohttp import WSMsgType, web

from .dockerstream import ExecStream
from .errors import ApiError, bad_request, invalid
from .kubelet import Kubelet

PROTOCOLS = (
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v4.base64.channel.k8s.io",
    "channel.k8s.io",
    "base64.channel.k8s.io",
)
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


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


def exit_status(code: int, cmd: list[str]) -> dict[str, Any]:
    """The error-channel Status the real API server sends when an exec ends."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command "
        f"{cmd}, exit code {code}",
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


class Channels:
    """Framing for the negotiated subprotocol (binary vs base64 text frames)."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.proto = ws.ws_protocol or "channel.k8s.io"
        self.b64 = "base64" in self.proto

    async def send(self, channel: int, data: bytes) -> None:
        if self.ws.closed:
            return
        if self.b64:
            await self.ws.send_str(str(channel) + base64.b64encode(data).decode())
        else:
            await self.ws.send_bytes(bytes([channel]) + data)

    def decode(self, msg: Any) -> tuple[int, bytes] | None:
        if msg.type == WSMsgType.BINARY and msg.data:
            return msg.data[0], msg.data[1:]
        if msg.type == WSMsgType.TEXT and msg.data:
            return int(msg.data[0]), base64.b64decode(msg.data[1:])
        return None


class PodStreams:
    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet

    def _running(self, pod: dict[str, Any], name: str) -> str:
        worker = self.kubelet.worker(pod["metadata"]["uid"])
        cid = worker.running_id(name) if worker else None
        if cid is None:
            raise bad_request(f'unable to upgrade connection: container not found ("{name}")')
        return cid

    async def exec(self, request: web.Request, pod: dict[str, Any]) -> web.StreamResponse:
        q = request.query
        cmd = q.getall("command", [])
        if not cmd:
            raise bad_request("you must specify at least 1 command")
        name = pick_container(pod, q.get("container"))
        cid = self._running(pod, name)
        tty, stdin = q.get("tty") in ("true", "1"), q.get("stdin") in ("true", "1")
        client = self.kubelet.client
        exec_id = (
            await self.kubelet.call(
                client.api.exec_create, cid, cmd, stdin=stdin, stdout=True, stderr=True, tty=tty
            )
        )["Id"]
        ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0, autoping=True)
        await ws.prepare(request)
        chans = Channels(ws)
        stream = await ExecStream.open(exec_id, tty)
        pump_in = asyncio.ensure_future(self._stdin(ws, chans, stream, exec_id))
        try:
            async for channel, data in stream.frames():
                await chans.send(channel, data)
            info = await self.kubelet.call(client.api.exec_inspect, exec_id)
            code = info.get("ExitCode") or 0
            if chans.proto.startswith("v4") or chans.proto.startswith("v5"):
                await chans.send(ERROR, json.dumps(exit_status(int(code), cmd)).encode())
            elif code:
                await chans.send(ERROR, f"command terminated with exit code {code}".encode())
        except ConnectionResetError:
            pass  # the client hung up before the command finished
        finally:
            pump_in.cancel()
            await asyncio.gather(pump_in, return_exceptions=True)
            stream.close()
            await ws.close()
        return ws

    async def _stdin(
        self, ws: web.WebSocketResponse, chans: Channels, stream: ExecStream, exec_id: str
    ) -> None:
        async for msg in ws:
            frame = chans.decode(msg)
            if frame is None:
                continue
            channel, data = frame
            if channel == STDIN:
                await stream.write(data)
            elif channel == CLOSE and data[:1] == b"\x00":
                stream.close_stdin()
            elif channel == RESIZE:
                with contextlib.suppress(Exception):
                    size = json.loads(data)
                    await self.kubelet.call(
                        self.kubelet.client.api.exec_resize,
                        exec_id,
                        height=size.get("Height"),
                        width=size.get("Width"),
                    )
        stream.close_stdin()

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
