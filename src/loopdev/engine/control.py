"""The control channel: how ``loopdev trigger NAME`` (and a key press in plain mode) reach
the running session.

A unix socket in the user's runtime directory, named from the project and the loopfile's
absolute path, so two checkouts of one project never trigger each other's session. One JSON
request per connection, one JSON reply: ``{"op": "trigger", "name": "api"}`` ->
``{"ok": true, "message": "..."}``. Only the user can connect (the directory is 0700).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import socket
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import platformdirs

from loopdev.engine import actions as a
from loopdev.engine.reconciler import SessionContext
from loopdev.engine.state import EngineState
from loopdev.engine.store import Store
from loopdev.errors import LoopdevError, UsageError

_MAX_REQUEST = 64 * 1024


def socket_path(project: str, loopfile: Path) -> Path:
    """Where the session of ``loopfile`` listens (short enough for the 108-byte limit)."""
    with warnings.catch_warnings():  # no XDG_RUNTIME_DIR: platformdirs falls back and warns
        warnings.simplefilter("ignore")
        runtime = Path(platformdirs.user_runtime_dir("loopdev"))
    key = hashlib.sha256(f"{project}\0{loopfile.resolve()}".encode()).hexdigest()[:12]
    return runtime / f"{project[:40]}-{key}.sock"


def handle_request(
    state: EngineState, request: dict[str, Any]
) -> tuple[dict[str, Any], a.Action | None]:
    """Decide the reply and the action to dispatch for one request (pure)."""
    op = request.get("op")
    if op == "status":
        resources = {n: r.state for n, r in state.resources.items()}
        return {"ok": True, "project": state.project, "resources": resources}, None
    if op != "trigger":
        return {
            "ok": False,
            "error": f"unknown request {op!r}; expected 'trigger' or 'status'",
        }, None
    name = str(request.get("name") or "")
    if name not in state.resources:
        valid = ", ".join(state.order) or "none yet"
        return {"ok": False, "error": f"no resource named '{name}'; resources: {valid}"}, None
    action = a.TriggerRequested(name, force_rebuild=bool(request.get("force_rebuild")))
    res = state.resources[name]
    note = "pending changes will be applied" if res.pending_changes else "update requested"
    return {"ok": True, "message": f"triggered {name} ({note})"}, action


class ControlServer:
    """Serves control requests for one session; the socket file exists only while it runs."""

    def __init__(self, store: Store, path: Path) -> None:
        self._store = store
        self.path = path
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.path.exists():
            if _answers(self.path):
                raise UsageError(
                    "another loopdev session is already running for this loopfile",
                    hint=f"stop it first (its control socket is {self.path})",
                )
            self.path.unlink()  # left behind by a session that was killed
        self._server = await asyncio.start_unix_server(self._handle, path=str(self.path))
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                line = await reader.readline()
                try:
                    request = json.loads(line[:_MAX_REQUEST] or b"{}")
                    if not isinstance(request, dict):
                        raise ValueError("not an object")
                except ValueError as err:
                    reply, action = {"ok": False, "error": f"bad request: {err}"}, None
                else:
                    reply, action = handle_request(self._store.state, request)
                if action is not None:
                    self._store.dispatch(action)
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def request(path: Path, payload: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Send one request to a running session (blocking; for CLI commands)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as err:
            raise LoopdevError(
                "no loopdev session is running for this loopfile",
                hint="start one with 'loopdev up' (in another terminal)",
            ) from err
        sock.sendall(json.dumps(payload).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    try:
        reply = json.loads(data)
    except ValueError as err:
        raise LoopdevError("the running session sent an unreadable reply") from err
    return reply if isinstance(reply, dict) else {"ok": False, "error": "unexpected reply"}


def keyboard_targets(line: str, state: EngineState) -> tuple[list[str], str]:
    """Plain mode: Enter alone triggers every resource with pending changes; a resource
    name (or its number in the display order) and Enter triggers that one (pure)."""
    text = line.strip()
    if not text:
        pending = [n for n in state.order if (r := state.resource(n)) and r.pending_changes]
        return pending, "" if pending else "nothing has pending changes"
    if text.isdigit() and 1 <= int(text) <= len(state.order):
        return [state.order[int(text) - 1]], ""
    if text in state.resources:
        return [text], ""
    return [], f"no resource named '{text}'; resources: {', '.join(state.order)}"


class ControlReconciler:
    """Runs the control socket for the whole session (listed with the other reconcilers),
    and, when the plain presenter sets ``ctx.shared["keyboard"] = True`` (a terminal without
    the dashboard), the key-press triggers on stdin."""

    name = "control"

    async def run(self, ctx: SessionContext) -> None:
        server = ControlServer(ctx.store, socket_path(ctx.config.name, ctx.config.path))
        await server.start()
        keys: asyncio.Task[None] | None = None
        if ctx.shared.get("keyboard"):
            ctx.logs.append("loopdev", "press Enter to apply pending changes, or NAME + Enter")
            keys = asyncio.create_task(read_keyboard(ctx, await stdin_reader()))
        try:
            await asyncio.Future()
        finally:
            if keys is not None:
                keys.cancel()
            await server.close()


async def read_keyboard(ctx: SessionContext, stream: asyncio.StreamReader) -> None:
    """Plain mode's key handling: one line from ``stream`` -> trigger(s) (see above)."""
    while line := await stream.readline():
        names, problem = keyboard_targets(line.decode(errors="replace"), ctx.store.state)
        if problem:
            ctx.logs.append("loopdev", problem)
        for name in names:
            ctx.logs.append("loopdev", f"triggered {name}")
            ctx.store.dispatch(a.TriggerRequested(name))


async def stdin_reader() -> asyncio.StreamReader:
    """An asyncio reader fed by a daemon thread reading this process's stdin.

    Why a thread and not ``connect_read_pipe``: that makes the terminal non-blocking, which
    also affects stdout on the same tty (prints then fail with EAGAIN). A daemon thread never
    holds up exit, even while it waits for a key.
    """
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()

    def pump() -> None:
        try:
            for line in iter(sys.stdin.buffer.readline, b""):
                loop.call_soon_threadsafe(reader.feed_data, line)
            loop.call_soon_threadsafe(reader.feed_eof)
        except (RuntimeError, OSError, ValueError):
            return  # the loop closed (exit) or stdin went away: nothing left to read for

    threading.Thread(target=pump, name="loopdev-keys", daemon=True).start()
    return reader
