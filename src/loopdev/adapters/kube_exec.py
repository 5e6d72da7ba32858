"""Kubernetes exec over asyncio WebSockets (aiohttp), configured by the official client.

Why not ``kubernetes.stream.stream``: it runs a websocket-client loop in a thread that
polls; a live update is one short exec per container, so the round-trip is the whole cost.

The upgrade is a GET (RFC 6455: a real API server answers a POST upgrade with 405 "bad
method") offering ``v5.channel.k8s.io, v4.channel.k8s.io``. Servers from 1.30 pick v5, which
can close stdin (channel 255); 1.25-1.29 pick v4, which cannot, so callers always send a byte
count and the container reads exactly that much (``head -c N``): the same stdin works on both.
A refused upgrade is reported with the server's own message (see ``kube_upgrade``).

Frames: one leading channel byte; 0 stdin, 1 stdout, 2 stderr, 3 error (a JSON ``Status``
when the command ends; a non-zero exit is ``NonZeroExitCode`` with an ``ExitCode`` cause),
255 close (v5 only).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp

from loopdev.adapters.kube_portforward import KubeWire
from loopdev.adapters.kube_upgrade import describe
from loopdev.errors import ClusterUnreachable

STDIN, STDOUT, STDERR, ERROR, CLOSE = 0, 1, 2, 3, 255
V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"
EXEC_PROTOCOLS = (V5, V4)
CHUNK = 256 * 1024


@dataclass(frozen=True)
class ExecResult:
    exit_code: int  # -1 when the server reported a failure that is not an exit code
    stdout: bytes = b""
    stderr: bytes = b""
    message: str = ""  # the Status message on failure
    protocol: str = ""  # the negotiated subprotocol (v5 or v4), "" when there was no upgrade


def parse_status(raw: bytes) -> tuple[int, str]:
    """Exit code and message from the error channel's ``Status`` (or a v1-style text)."""
    try:
        status = json.loads(raw)
    except ValueError:
        text = raw.decode(errors="replace").strip()
        return (0, "") if not text else (-1, text)
    if status.get("status") == "Success":
        return 0, ""
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            return int(cause.get("message", "-1")), str(status.get("message", ""))
    return -1, str(status.get("message", "exec failed"))


class KubeExec(KubeWire):
    """Exec into containers, sharing the port-forward client's HTTP session and credentials."""

    protocols: tuple[str, ...] = EXEC_PROTOCOLS

    async def exec(
        self,
        namespace: str,
        pod: str,
        container: str,
        command: list[str],
        stdin: bytes = b"",
        timeout: float = 300.0,
    ) -> ExecResult:
        """Run ``command``, feed ``stdin``, wait for the exit status."""
        params: list[tuple[str, str]] = [("command", c) for c in command]
        params += [("container", container), ("stdout", "true"), ("stderr", "true")]
        params += [("stdin", "true")] if stdin else []
        url = f"{self._host}/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}/exec"
        try:
            async with asyncio.timeout(timeout):
                ws = await self._http().ws_connect(
                    url,
                    method="GET",
                    params=params,
                    protocols=self.protocols,
                    headers=await self._headers(),
                    max_msg_size=0,
                    autoping=True,
                )
                async with ws:
                    return await self._converse(ws, stdin)
        except aiohttp.WSServerHandshakeError as err:
            return ExecResult(-1, message=f"exec refused: {describe(err)}")
        except TimeoutError:
            return ExecResult(-1, message=f"exec did not finish within {timeout:g}s")
        except (aiohttp.ClientError, OSError) as err:
            raise ClusterUnreachable(f"exec into {pod}: {type(err).__name__}: {err}") from err

    async def _converse(self, ws: aiohttp.ClientWebSocketResponse, stdin: bytes) -> ExecResult:
        for i in range(0, len(stdin), CHUNK):
            await ws.send_bytes(bytes([STDIN]) + stdin[i : i + CHUNK])
        if stdin and ws.protocol == V5:  # v4 has no close: the command reads a byte count
            await ws.send_bytes(bytes([CLOSE, STDIN]))
        out: dict[int, bytearray] = {STDOUT: bytearray(), STDERR: bytearray()}
        status: bytes | None = None
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                continue
            channel, data = msg.data[0], msg.data[1:]
            if channel in out:
                out[channel] += data
            elif channel == ERROR:
                status = (status or b"") + data
        stdout, stderr, proto = bytes(out[STDOUT]), bytes(out[STDERR]), ws.protocol or ""
        if status is None:
            return ExecResult(-1, stdout, stderr, "no exit status", proto)
        code, message = parse_status(status)
        return ExecResult(code, stdout, stderr, message, proto)

    async def delete_pod(self, namespace: str, pod: str) -> None:
        """Replace a pod (its controller makes a new one): the container restart of last resort."""
        url = f"{self._host}/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}"
        async with self._http().delete(url, headers=await self._headers()) as resp:
            if resp.status >= 400 and resp.status != 404:
                raise ClusterUnreachable(f"deleting pod {pod}: HTTP {resp.status}")
