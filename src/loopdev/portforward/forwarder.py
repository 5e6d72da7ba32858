"""The local side of one forward: an asyncio listener whose connections are relayed to the
current target pod.

Why the state is driven by real dials: Tilt and Skaffold both show forwards as healthy while
every new connection fails. Here the state says ``listening`` only after a dial to the
current pod succeeded, and the first failed dial turns it to ``error: <cause>`` until a
re-check (with backoff) or a new pod makes it good again. An idle forward that works is
checked again only when something it depends on changes (``reverify``: the cluster's
reachability, its pod's object), never on a timer, so an idle session sends no requests.
Every dial and every close has a deadline, so a dead API server or pod cannot wedge the
listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import Callable
from dataclasses import dataclass

from loopdev.portforward.holder import port_holder
from loopdev.portforward.relay import relay
from loopdev.portforward.stream import Dialer, DialError

_RECHECK = (0.25, 0.5, 1.0, 2.0, 4.0)  # backoff between re-checks after a failed dial
_BIND_RETRY = 2.0  # seconds between attempts to bind a port someone else holds
WAITING = "waiting for pod"
LISTENING = "listening"


@dataclass(frozen=True)
class Target:
    namespace: str
    pod: str
    port: int


class Forwarder:
    """Listens on ``host:local`` and bridges each connection to the current ``Target``."""

    def __init__(
        self,
        dialer: Dialer,
        host: str,
        local: int,
        on_state: Callable[[str], None] = lambda _s: None,
        dial_timeout: float = 5.0,
        target_wait: float = 5.0,
        linger: float = 10.0,
        settle: float = 0.3,
        verify_every: float | None = None,  # seconds between checks of an idle forward
    ) -> None:
        self._dialer = dialer
        self.host, self.local = host, local
        self._on_state = on_state
        self._dial_timeout = dial_timeout
        self._target_wait = target_wait
        self._linger = linger
        self._settle = settle
        self._verify_every = verify_every
        self._last_ok = 0.0
        self._target: Target | None = None
        self._target_set = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._conns: dict[asyncio.Task[None], str] = {}
        self._check: asyncio.Task[None] | None = None
        self._bind_error = ""
        self._problem = ""
        self.state = WAITING

    @property
    def target(self) -> Target | None:
        return self._target

    @property
    def bound(self) -> bool:
        return self._server is not None

    @property
    def listen_error(self) -> str:
        """Why the local port cannot be bound right now ("" once it is)."""
        return self._bind_error

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self._on_state(state)

    async def serve(self) -> None:
        """Bind (retrying while the port is taken) and serve until cancelled."""
        try:
            while self._server is None:
                try:
                    self._server = await asyncio.start_server(self._handle, self.host, self.local)
                except OSError as err:
                    self._bind_error = await asyncio.to_thread(self._describe_bind_error, err)
                    self._set_state(f"error: {self._bind_error}")
                    await asyncio.sleep(_BIND_RETRY)
            self._bind_error = ""
            self._recheck(immediately=True)
            await asyncio.Future()  # serve until cancelled
        finally:
            await self.close()

    def _describe_bind_error(self, err: OSError) -> str:
        if err.errno != errno.EADDRINUSE:
            return f"cannot listen on {self.host}:{self.local}: {err.strerror or err}"
        holder = port_holder(self.local)
        by = f" by {holder}" if holder else ""
        return f"local port {self.local} is already in use{by}"

    def set_target(self, target: Target | None, problem: str = "") -> bool:
        """Point new connections at ``target`` (None: no Ready pod, or ``problem`` says why
        there is no usable one, e.g. an unknown port name). Open connections stay. True when
        the target changed (it is then checked)."""
        if target == self._target and problem == self._problem:
            return False
        self._target, self._problem = target, problem
        if target is None:
            self._target_set.clear()
        else:
            self._target_set.set()
        self._recheck(immediately=True)
        return True

    def drop_pod(self, pod: str) -> None:
        """Close the connections relayed to a pod that is gone, so clients notice at once."""
        for task, bound in list(self._conns.items()):
            if bound == pod:
                task.cancel()

    def reverify(self) -> None:
        """Something the forward depends on changed: dial once to learn whether it works."""
        self._recheck(immediately=True)

    @property
    def checking(self) -> bool:
        """A check is running or waiting for its turn (an idle, working forward has none)."""
        return self._check is not None and not self._check.done()

    def _recheck(self, immediately: bool = False, idle: bool = False) -> None:
        if self._server is None:
            return
        if self._check is not None:
            self._check.cancel()
        self._check = asyncio.create_task(self._check_loop(immediately, idle))

    async def _check_loop(self, immediately: bool, idle: bool) -> None:
        """Dial the target until a dial works; then, with ``verify_every``, re-check whenever
        the forward has been idle that long (else ``reverify`` does, on a change): the state
        follows each outcome, so a forward whose API server or pod went away stops saying
        ``listening`` even if nobody connects."""
        attempt = 0 if immediately else 1
        while True:
            if idle:
                if self._verify_every is None:
                    return
                await self._idle_for(self._verify_every)
                idle, attempt = False, 0
            target = self._target
            if target is None:
                self._set_state(f"error: {self._problem}" if self._problem else WAITING)
                return
            if attempt:
                await asyncio.sleep(_RECHECK[min(attempt - 1, len(_RECHECK) - 1)])
            attempt += 1
            problem = await self._probe(target)
            if self._target != target:
                continue
            if problem is not None:
                self._set_state(f"error: {_one_line(problem)}")
                continue
            self._ok()
            idle = True

    async def _probe(self, target: Target) -> str | None:
        try:
            stream = await self._dialer.dial(
                target.namespace, target.pod, target.port, self._dial_timeout
            )
        except DialError as err:
            return str(err)
        try:
            return await stream.check(self._settle)
        finally:
            await asyncio.shield(stream.close())

    async def _idle_for(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        while (left := self._last_ok + seconds - loop.time()) > 0:
            await asyncio.sleep(left)

    def _ok(self) -> None:
        self._last_ok = asyncio.get_running_loop().time()
        self._set_state(LISTENING)

    async def _await_target(self) -> Target | None:
        if self._target is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._target_wait):
                    await self._target_set.wait()
        return self._target

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        try:
            target = await self._await_target()
            if target is None:
                return
            self._conns[task] = target.pod
            try:
                stream = await self._dialer.dial(
                    target.namespace, target.pod, target.port, self._dial_timeout
                )
            except DialError as err:
                self._set_state(f"error: {err}")
                self._recheck()
                return
            got_data = await relay(reader, writer, stream, self._linger)
            if stream.error and not got_data:
                self._set_state(f"error: {_one_line(stream.error)}")
                self._recheck()
            elif got_data and self._target == target:  # a working relay is the best check
                was_failing = self.state != LISTENING
                self._ok()
                if was_failing:
                    self._recheck(idle=True)
        finally:
            self._conns.pop(task, None)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def close(self, timeout: float = 1.0) -> None:
        """Stop listening and close every relayed connection within ``timeout``."""
        check, self._check = self._check, None
        if check is not None:
            check.cancel()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        tasks = list(self._conns) + ([check] if check is not None else [])
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)


def _one_line(text: str) -> str:
    return " ".join(text.split())
