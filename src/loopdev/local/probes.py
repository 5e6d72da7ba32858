"""Readiness probes for local ``serve`` commands: http, tcp or exec, each with a deadline.

Why our own: these mirror Kubernetes probe semantics (http 200-399, tcp connect, exec exit 0)
so a local service is "ready" under the same rule as a pod, and dependents start only then.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Mapping
from pathlib import Path

from loopdev.config.model import Probe
from loopdev.local.process import ManagedProcess


async def probe_once(
    probe: Probe, *, cwd: Path, env: Mapping[str, str] | None = None
) -> tuple[bool, str]:
    """Run the probe once within ``probe.timeout``; returns (ok, reason when not ok)."""
    try:
        if probe.http:
            return await asyncio.wait_for(_http(probe.http), probe.timeout)
        if probe.tcp:
            return await asyncio.wait_for(_tcp(probe.tcp), probe.timeout)
        if probe.exec:
            return await _exec(probe.exec, cwd, env, probe.timeout)
    except TimeoutError:
        return False, f"{describe(probe)}: no answer within {probe.timeout:g}s"
    return False, "probe has no http, tcp or exec"


def describe(probe: Probe) -> str:
    """A short label for status lines: 'http http://...', 'tcp host:port', 'exec <cmd>'."""
    if probe.http:
        return f"http {probe.http}"
    if probe.tcp:
        return f"tcp {probe.tcp}"
    return f"exec {probe.exec}"


async def _http(url: str) -> tuple[bool, str]:
    # aiohttp only for http probes (not at import: every session loads this module), and
    # loaded in a thread the first time so the import does not hold up the event loop.
    await asyncio.to_thread(importlib.import_module, "aiohttp")
    import aiohttp

    try:
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            if 200 <= resp.status < 400:
                return True, ""
            return False, f"http {url}: status {resp.status}"
    except aiohttp.ClientError as err:
        return False, f"http {url}: {err}"


async def _tcp(address: str) -> tuple[bool, str]:
    host, _, port = address.rpartition(":")
    try:
        _reader, writer = await asyncio.open_connection(host or "127.0.0.1", int(port))
    except (OSError, ValueError) as err:
        return False, f"tcp {address}: {err}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, ""


async def _exec(
    command: str, cwd: Path, env: Mapping[str, str] | None, timeout: float
) -> tuple[bool, str]:
    proc = ManagedProcess(command, cwd=cwd, env=env)
    try:
        await proc.start()
    except OSError as err:
        return False, f"exec {command}: {err}"
    try:
        code = await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        await proc.stop(grace=0.2)
        return False, f"exec {command}: still running after {timeout:g}s"
    await proc.reap_group(grace=0.2)
    return (True, "") if code == 0 else (False, f"exec {command}: exit code {code}")
