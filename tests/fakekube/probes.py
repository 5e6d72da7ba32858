"""Readiness probes (exec, httpGet, tcpSocket) evaluated against a running container."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp


def _port(value: Any, container: dict[str, Any]) -> int:
    if isinstance(value, int):
        return value
    for p in container.get("ports") or []:
        if p.get("name") == value:
            return int(p["containerPort"])
    return int(value)


async def probe_once(
    probe: dict[str, Any],
    container: dict[str, Any],
    ip: str,
    exec_check: Callable[[list[str]], Awaitable[bool]],
) -> bool:
    timeout = float(probe.get("timeoutSeconds", 1))
    try:
        if "exec" in probe:
            return await asyncio.wait_for(exec_check(list(probe["exec"]["command"])), timeout + 5)
        if "httpGet" in probe:
            get = probe["httpGet"]
            scheme = get.get("scheme", "HTTP").lower()
            url = f"{scheme}://{get.get('host') or ip}:{_port(get['port'], container)}"
            url += get.get("path", "/")
            headers = {h["name"]: h["value"] for h in get.get("httpHeaders") or []}
            async with (
                aiohttp.ClientSession() as session,
                session.get(
                    url,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=timeout),
                    ssl=False,
                    allow_redirects=False,
                ) as resp,
            ):
                return 200 <= resp.status < 400
        if "tcpSocket" in probe:
            port = _port(probe["tcpSocket"]["port"], container)
            _, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), timeout)
            writer.close()
            return True
    except (OSError, TimeoutError, aiohttp.ClientError, ValueError):
        return False
    return False


async def run_probe(
    probe: dict[str, Any],
    container: dict[str, Any],
    ip: str,
    exec_check: Callable[[list[str]], Awaitable[bool]],
    set_ok: Callable[[bool], None],
    on_failure: Callable[[], None] | None = None,
) -> None:
    """Loop until cancelled; ``set_ok`` fires when a success/failure threshold is reached."""
    await asyncio.sleep(float(probe.get("initialDelaySeconds", 0)))
    period = float(probe.get("periodSeconds", 10))
    need_ok = int(probe.get("successThreshold", 1))
    need_fail = int(probe.get("failureThreshold", 3))
    ok_run = fail_run = 0
    while True:
        if await probe_once(probe, container, ip, exec_check):
            ok_run, fail_run = ok_run + 1, 0
            if ok_run >= need_ok:
                set_ok(True)
        else:
            ok_run, fail_run = 0, fail_run + 1
            if on_failure is not None:
                on_failure()
            if fail_run >= need_fail:
                set_ok(False)
        await asyncio.sleep(period)
