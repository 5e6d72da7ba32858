from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from loopdev.config.model import Probe
from loopdev.local.probes import probe_once


async def _http_server(status: int) -> tuple[web.AppRunner, int]:
    async def health(_req: web.Request) -> web.Response:
        return web.Response(status=status)

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port


async def test_http_probe_ok_and_failing_status(tmp_path: Path) -> None:
    runner, port = await _http_server(204)
    try:
        assert await probe_once(Probe(http=f"http://127.0.0.1:{port}/health"), cwd=tmp_path) == (
            True,
            "",
        )
    finally:
        await runner.cleanup()
    runner, port = await _http_server(503)
    try:
        ok, why = await probe_once(Probe(http=f"http://127.0.0.1:{port}/health"), cwd=tmp_path)
        assert not ok and "status 503" in why
    finally:
        await runner.cleanup()


async def test_tcp_probe_open_and_closed_port(tmp_path: Path) -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    assert (await probe_once(Probe(tcp=f"127.0.0.1:{port}"), cwd=tmp_path))[0]
    server.close()
    await server.wait_closed()
    ok, why = await probe_once(Probe(tcp=f"127.0.0.1:{port}"), cwd=tmp_path)
    assert not ok and why.startswith(f"tcp 127.0.0.1:{port}:")


async def test_exec_probe_exit_code_and_timeout(tmp_path: Path) -> None:
    assert await probe_once(Probe(exec="test -d ."), cwd=tmp_path) == (True, "")
    ok, why = await probe_once(Probe(exec="exit 4"), cwd=tmp_path)
    assert (ok, why) == (False, "exec exit 4: exit code 4")
    ok, why = await probe_once(Probe(exec="sleep 5", timeout=0.2), cwd=tmp_path)
    assert not ok and "still running after 0.2s" in why
