"""Forwarder + the aiohttp port-forward client against the in-process fake API server."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest
from pf_fake_server import FakeApi, free_port, get, http_backend, pod, until

from loopdev.adapters.kube_portforward import KubeWire
from loopdev.portforward.forwarder import LISTENING, WAITING, Forwarder, Target
from loopdev.portforward.stream import DialError


@contextlib.asynccontextmanager
async def forwarding(
    wire: KubeWire, port: int, states: list[str], verify_every: float = 10.0, linger: float = 10.0
) -> AsyncIterator[Forwarder]:
    fwd = Forwarder(
        wire,
        "127.0.0.1",
        port,
        on_state=states.append,
        dial_timeout=2.0,
        verify_every=verify_every,
        linger=linger,
    )
    task = asyncio.create_task(fwd.serve())
    try:
        await until(lambda: fwd.bound or fwd.state.startswith("error: "))
        yield fwd
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_dial_raw_stream_and_errors(fake_api: FakeApi, wire: KubeWire) -> None:
    server, addr = await http_backend("hi")
    fake_api.put(pod("p1"), backend=addr)
    stream = await wire.dial("default", "p1", 8000, timeout=2)
    await stream.write(b"GET / HTTP/1.0\r\n\r\n")
    chunks = []
    while data := await stream.read():
        chunks.append(data)
    assert b"".join(chunks).endswith(b"hi")
    await stream.close()
    with pytest.raises(DialError, match="HTTP 404"):
        await wire.dial("default", "nope", 8000, timeout=2)
    fake_api.put(pod("dead"), backend=("127.0.0.1", free_port()))
    refused = await wire.dial("default", "dead", 8000, timeout=2)
    assert "error forwarding port 8000" in (await refused.check(1.0) or "")
    await refused.close()
    server.close()


async def test_forward_follows_the_target_and_reports_state(
    fake_api: FakeApi, wire: KubeWire
) -> None:
    s1, a1 = await http_backend("one")
    s2, a2 = await http_backend("two")
    fake_api.put(pod("p1"), backend=a1)
    fake_api.put(pod("p2"), backend=a2)
    port, states = free_port(), []
    async with forwarding(wire, port, states) as fwd:
        await until(lambda: fwd.state == WAITING)
        fwd.set_target(Target("default", "p1", 8000))
        await until(lambda: fwd.state == LISTENING)
        assert await get(port) == "one"
        fwd.set_target(Target("default", "p2", 8000))
        assert await get(port) == "two"
        fwd.set_target(Target("default", "gone", 8000))  # every dial fails: never "listening"
        await until(lambda: fwd.state.startswith("error: "))
        assert await get(port) == ""  # closed without an answer, not hung
        assert fwd.state.startswith("error: ") and "404" in fwd.state
        fwd.set_target(Target("default", "p1", 8000))
        await until(lambda: fwd.state == LISTENING)
    s1.close()
    s2.close()


async def test_ten_parallel_connections(fake_api: FakeApi, wire: KubeWire) -> None:
    server, addr = await http_backend("ok")
    fake_api.put(pod("p1"), backend=addr)
    port = free_port()
    async with forwarding(wire, port, []) as fwd:
        fwd.set_target(Target("default", "p1", 8000))
        results = await asyncio.gather(*(get(port) for _ in range(10)))
    assert results == ["ok"] * 10
    server.close()


async def test_connection_waits_briefly_for_a_pod(fake_api: FakeApi, wire: KubeWire) -> None:
    server, addr = await http_backend("late")
    fake_api.put(pod("p1"), backend=addr)
    port = free_port()
    async with forwarding(wire, port, []) as fwd:
        await until(lambda: fwd.state == WAITING)
        pending = asyncio.create_task(get(port))
        await asyncio.sleep(0.2)
        fwd.set_target(Target("default", "p1", 8000))
        assert await pending == "late"
    server.close()


async def test_port_in_use_names_the_holder_and_recovers(wire: KubeWire) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    async with forwarding(wire, port, []) as fwd:
        await until(lambda: fwd.state.startswith("error: "))
        assert fwd.state.startswith(f"error: local port {port} is already in use by ")
        assert "(pid " in fwd.state
        assert fwd.listen_error == fwd.state.removeprefix("error: ")  # what `ci` fails on
        blocker.close()
        await until(lambda: fwd.state == WAITING, timeout=4)
        assert fwd.listen_error == ""


async def test_idle_forward_notices_api_server_loss_and_recovers(
    fake_api: FakeApi, wire: KubeWire
) -> None:
    server, addr = await http_backend("back")
    fake_api.put(pod("p1"), backend=addr)
    port, states = free_port(), []
    async with forwarding(wire, port, states, verify_every=0.3) as fwd:
        fwd.set_target(Target("default", "p1", 8000))
        await until(lambda: fwd.state == LISTENING)
        await fake_api.stop()  # nobody connects: the periodic check must notice
        await until(lambda: fwd.state.startswith("error: "), timeout=5)
        assert await get(port) == ""  # a new connection is closed at once, not hung
        assert fwd.state.startswith("error: ")
        await fake_api.start(fake_api.port)
        await until(lambda: fwd.state == LISTENING, timeout=8)
        assert await get(port) == "back"
    server.close()


async def test_half_closed_client_gets_the_reply_but_a_silent_pod_cannot_hold_it(
    fake_api: FakeApi, wire: KubeWire
) -> None:
    answering, a1 = await http_backend("reply")
    held: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(lambda _r, w: held.append(w), "127.0.0.1", 0)
    fake_api.put(pod("p1"), backend=a1)
    fake_api.put(pod("p2"), backend=silent.sockets[0].getsockname()[:2])
    port = free_port()
    async with forwarding(wire, port, [], linger=0.5) as fwd:
        fwd.set_target(Target("default", "p1", 8000))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        writer.write_eof()  # like `nc -N`: the request, then EOF
        assert (await asyncio.wait_for(reader.read(), 3)).endswith(b"reply")
        writer.close()

        fwd.set_target(Target("default", "p2", 8000))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping")
        writer.write_eof()
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await asyncio.wait_for(reader.read(), 3) == b""
        assert loop.time() - started < 2.0
        writer.close()
    answering.close()
    silent.close()
    for w in held:
        w.close()


async def test_pod_watch_relists_after_410_gone(fake_api: FakeApi, wire: KubeWire) -> None:
    fake_api.put(pod("a"))
    seen: list[list[str]] = []
    watch = wire.watch_pods("default", "")

    async def consume() -> None:
        async for pods in watch:
            seen.append(sorted(p["metadata"]["name"] for p in pods))

    task = asyncio.create_task(consume())
    try:
        await until(lambda: seen == [["a"]])
        fake_api.put(pod("b"))
        await until(lambda: seen[-1] == ["a", "b"])
        fake_api.expire_watches()
        await asyncio.sleep(0.05)
        fake_api.delete("a")  # happens while the watch is being re-established
        await until(lambda: seen[-1] == ["b"], timeout=3)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await watch.aclose()
