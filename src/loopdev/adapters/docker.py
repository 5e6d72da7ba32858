"""The Docker engine, through the official ``docker`` SDK: the only module importing it.

Every call blocks, so each public coroutine runs its SDK work in a worker thread; output
callbacks are handed back to the event loop with ``call_soon_threadsafe``. SDK exceptions
become ``BuildError``/``DockerUnavailable`` here, in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Literal

import docker
import docker.errors
from docker.utils import kwargs_from_env
from docker.utils.build import PatternMatcher, create_archive, normalize_slashes
from docker.utils.fnmatch import translate

from loopdev.adapters.docker_cli import (
    BuildkitCli,
    CliBuild,
    CliProbe,
    cli_build,
    find_buildkit_cli,
)
from loopdev.errors import BuildError, DockerUnavailable

__all__ = [
    "BuildCancelled",
    "BuildRequest",
    "DockerAdapter",
    "PatternMatcher",
    "create_archive",
    "normalize_slashes",
    "translate",
]

LineSink = Callable[[str], None]
_current = threading.local()


class BuildCancelled(Exception):
    """The build's connection was closed on purpose (a newer build replaced it)."""


class _Api(docker.APIClient):  # type: ignore[misc]
    """Remembers the streaming response of the last call in this thread, so it can be closed."""

    def _stream_helper(self, response: Any, decode: bool = False) -> Any:
        _current.response = response
        return super()._stream_helper(response, decode)


@dataclass(frozen=True)
class BuildRequest:
    """One ``docker build``: a context file list (what we hashed) plus the build options."""

    context: str
    files: tuple[str, ...]
    tag: str
    dockerfile: str  # path inside the tar
    extra_files: tuple[tuple[str, str], ...] = ()  # (name in tar, text): rewritten Dockerfile
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    builder: Literal["classic", "buildkit"] = "classic"
    cli: BuildkitCli | None = None  # the BuildKit-capable docker CLI (builder "buildkit")
    dockerfile_text: str = ""  # BuildKit: the Dockerfile to build (rewritten FROMs included)
    ignore: tuple[str, ...] = ()  # BuildKit: the ignore patterns the digest applied
    secrets: tuple[str, ...] = ()  # --secret specs (BuildKit only)
    ssh: tuple[str, ...] = ()  # --ssh specs (BuildKit only)


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def unavailable(err: Exception | None = None) -> DockerUnavailable:
    return DockerUnavailable(
        f"cannot connect to Docker at {docker_host()}; is the Docker engine running?",
        "start Docker (or set DOCKER_HOST to a running engine) and try again",
    )


class DockerAdapter:
    """Narrow async wrapper over the SDK's low-level client; counts builds (tests assert on it)."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.build_calls = 0
        self._cli_probe: CliProbe | None = None

    async def buildkit_cli(self) -> CliProbe:
        """The docker CLI that builds with BuildKit here, probed once per adapter."""
        if self._cli_probe is None:
            self._cli_probe = await find_buildkit_cli()
        return self._cli_probe

    @classmethod
    def from_env_sync(cls) -> DockerAdapter:
        try:
            api = _Api(**kwargs_from_env(), version="auto", timeout=120)
        except docker.errors.DockerException as err:
            raise unavailable(err) from None
        return cls(api)

    @classmethod
    async def connect(cls) -> DockerAdapter:
        """Connect to the engine named by the environment (``DOCKER_HOST`` etc.)."""
        return await asyncio.to_thread(cls.from_env_sync)

    async def image_exists(self, ref: str) -> bool:
        return await asyncio.to_thread(self._image_exists, ref)

    def _image_exists(self, ref: str) -> bool:
        try:
            self.api.inspect_image(ref)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.NotFound:
            return False
        except docker.errors.DockerException as err:
            raise _translate(err) from None
        return True

    async def build(self, req: BuildRequest, on_line: LineSink) -> str:
        """Build and tag; return the image id. Cancelling the awaiting task ends the build."""
        loop = asyncio.get_running_loop()
        self.build_calls += 1

        def emit(line: str) -> None:
            loop.call_soon_threadsafe(on_line, line)

        if req.builder == "buildkit":
            return await self._build_cli(req, on_line)
        run = _BuildRun(self.api, req, emit)
        task = asyncio.ensure_future(asyncio.to_thread(run.run))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            run.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 15)
            raise

    async def _build_cli(self, req: BuildRequest, on_line: LineSink) -> str:
        """BuildKit through the docker CLI (``req.cli``)."""
        if req.cli is None:
            raise BuildError("a BuildKit build needs a docker CLI that can run it")
        options = CliBuild(
            req.context, req.dockerfile_text, req.ignore, req.tag, req.build_args,
            req.target, req.labels, req.secrets, req.ssh,
        )  # fmt: skip
        return await cli_build(req.cli, options, on_line)

    async def tag(self, src: str, dest: str) -> None:
        repo, tag = split_tag(dest)
        await asyncio.to_thread(self.api.tag, src, repo, tag, force=True)

    async def push(self, ref: str, on_line: LineSink) -> None:
        """Push to a registry; a failure names the registry and what to check."""
        loop = asyncio.get_running_loop()

        def run() -> None:
            repo, tag = split_tag(ref)
            try:
                for chunk in self.api.push(repo, tag, stream=True, decode=True):
                    if "error" in chunk:
                        raise BuildError(
                            f"push of {ref} failed: {chunk['error'].strip()}",
                            "is the registry running and reachable from this machine?",
                        )
                    if chunk.get("status"):
                        text = f"{chunk.get('id', '')} {chunk['status']}".strip()
                        loop.call_soon_threadsafe(on_line, text)
            except docker.errors.DockerException as err:
                hint = "is the registry running?"
                raise BuildError(f"push of {ref} failed: {err}", hint) from None

        await asyncio.to_thread(run)

    async def registry_has(self, ref: str) -> bool:
        """Whether a registry holds ``ref``, asked through the engine (it speaks HTTPS, trusts
        what it trusts for pushes, and sends the docker config's credentials, as a push does).
        A refusal of the credentials is an error naming ``docker login``; anything else
        (unreachable, no such tag) is "not there", and the push that follows says why."""

        def run() -> bool:
            try:
                self.api.inspect_distribution(ref)
            except docker.errors.NotFound:
                return False
            except docker.errors.APIError as err:
                text = str(getattr(err, "explanation", None) or err)
                if err.status_code in (401, 403) or "auth" in text.lower():
                    host = ref.split("/", 1)[0]
                    raise BuildError(
                        f"registry {host} refused the credentials for {ref}: {text}",
                        f"docker login {host} (loopdev uses the docker config's credentials)",
                    ) from None
                return False
            except docker.errors.DockerException as err:
                raise _translate(err) from None
            return True

        return await asyncio.to_thread(run)

    async def tags_of(self, repository: str) -> list[tuple[str, int]]:
        """(tag reference, created unix time) of every local image in ``repository``."""

        def run() -> list[tuple[str, int]]:
            out = []
            for img in self.api.images(name=repository):
                for ref in img.get("RepoTags") or ():
                    if ref.rpartition(":")[0] == repository:
                        out.append((ref, int(img.get("Created", 0))))
            return out

        return await asyncio.to_thread(run)

    async def remove_tag(self, ref: str) -> bool:
        """Untag (and delete when unused); False when Docker refuses (e.g. a container uses it)."""
        try:
            await asyncio.to_thread(self.api.remove_image, ref, force=False, noprune=False)
        except docker.errors.DockerException:
            return False
        return True

    async def containers_with_label(self, label: str) -> list[str]:
        """Names of running containers carrying ``label`` (``key=value``)."""
        found = await asyncio.to_thread(self.api.containers, filters={"label": label})
        return sorted(c["Names"][0].lstrip("/") for c in found)

    async def exec_output(self, container: str, cmd: list[str]) -> tuple[int, str]:
        """Run ``cmd`` in a container; exit code and combined output."""
        return await asyncio.to_thread(self._exec, container, cmd, None)

    async def save_into_exec(self, ref: str, container: str, cmd: list[str]) -> tuple[int, str]:
        """Stream ``docker save <ref>`` into the stdin of ``cmd`` run inside ``container``."""

        def chunks() -> Iterator[bytes]:
            yield from self.api.get_image(ref, chunk_size=1 << 20)

        return await asyncio.to_thread(self._exec, container, cmd, chunks())

    def _exec(
        self, container: str, cmd: list[str], stdin: Iterable[bytes] | None
    ) -> tuple[int, str]:
        try:
            ex = self.api.exec_create(container, cmd, stdin=stdin is not None)
            if stdin is None:
                out = self.api.exec_start(ex["Id"])
            else:
                out = _pump(self.api.exec_start(ex["Id"], socket=True), stdin)
            code = self.api.exec_inspect(ex["Id"])["ExitCode"]
        except docker.errors.DockerException as err:
            raise _translate(err) from None
        return int(code or 0), out.decode(errors="replace")


def write_context_tar(r: BuildRequest, fileobj: IO[bytes]) -> None:
    """The context as Docker receives it: the hashed files plus the rewritten Dockerfile."""
    try:
        create_archive(r.context, list(r.files), fileobj=fileobj, extra_files=list(r.extra_files))
    except OSError as err:
        raise BuildError(
            f"cannot read the build context {r.context}: {err}",
            "a file changed or vanished while the build started; save again to rebuild",
        ) from None


def _pump(sock: Any, data: Iterable[bytes]) -> bytes:
    """Write all of ``data`` to an attached exec socket, half-close, read frames until EOF."""
    raw = getattr(sock, "_sock", sock)
    for chunk in data:
        raw.sendall(chunk)
    raw.shutdown(socket.SHUT_WR)
    out = bytearray()
    while True:
        header = _read_exact(raw, 8)
        if len(header) < 8:
            break
        _, size = struct.unpack(">BxxxL", header)
        out += _read_exact(raw, size)
    sock.close()
    return bytes(out)


def _read_exact(raw: Any, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        got = raw.recv(n - len(buf))
        if not got:
            break
        buf += got
    return bytes(buf)


class _BuildRun:
    """One build in a worker thread; ``cancel`` (any thread) closes its connection."""

    def __init__(self, api: Any, req: BuildRequest, emit: LineSink) -> None:
        self.api, self.req, self.emit = api, req, emit
        self.response: Any = None
        self.cancelled = threading.Event()
        self.lines: list[str] = []
        self.step = ""

    def cancel(self) -> None:
        self.cancelled.set()
        resp = self.response
        if resp is None:
            return
        with contextlib.suppress(Exception):
            raw = self.api._get_raw_response_socket(resp)
            getattr(raw, "_sock", raw).shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            resp.close()

    def run(self) -> str:
        with tempfile.TemporaryFile() as tar:
            write_context_tar(self.req, tar)
            if self.cancelled.is_set():
                raise BuildCancelled()
            return self._stream(tar)

    def _stream(self, tar: IO[bytes]) -> str:
        r = self.req
        image_id = ""
        try:
            stream = self.api.build(
                fileobj=tar, custom_context=True, tag=r.tag, dockerfile=r.dockerfile,
                buildargs=dict(r.build_args), target=r.target, labels=dict(r.labels),
                rm=True, forcerm=True, decode=True,
            )  # fmt: skip
            self.response = getattr(_current, "response", None)
            if self.cancelled.is_set():
                self.cancel()
            pending = ""
            for chunk in stream:
                pending = self._take(chunk, pending)
                image_id = chunk.get("aux", {}).get("ID", image_id)
            if pending:
                self._line(pending)
        except docker.errors.DockerException as err:
            if self.cancelled.is_set():
                raise BuildCancelled() from None
            raise _translate(err) from None
        except Exception:
            if self.cancelled.is_set():
                raise BuildCancelled() from None
            raise
        if self.cancelled.is_set():
            raise BuildCancelled()
        return image_id or r.tag

    def _take(self, chunk: Mapping[str, Any], pending: str) -> str:
        if "error" in chunk:
            if pending:
                self._line(pending)
            raise BuildError(self._failure(str(chunk["error"]).strip()))
        text = pending + str(chunk.get("stream", ""))
        *complete, rest = text.split("\n")
        for line in complete:
            self._line(line.rstrip("\r"))
        return rest

    def _line(self, line: str) -> None:
        if line.startswith("Step ") and " : " in line:
            self.step = line
            self.lines = []
        else:
            self.lines.append(line)
        self.emit(line)

    def _failure(self, error: str) -> str:
        step = self.step or "the Dockerfile"
        useful = [ln for ln in self.lines if ln.strip() and not _builder_noise(ln)]
        tail = "\n".join(f"  | {ln}" for ln in useful[-20:])
        text = f"build failed at {step}: {error}"
        return f"{text}\n{tail}" if tail else text


def _builder_noise(line: str) -> bool:
    """The classic builder's bookkeeping lines, useless in an error message."""
    return line.startswith((" ---> ", "Removing intermediate container"))


def split_tag(ref: str) -> tuple[str, str]:
    """``host:5000/a:tag`` -> (``host:5000/a``, ``tag``); ``latest`` when there is no tag."""
    slash, colon = ref.rfind("/"), ref.rfind(":")
    return (ref[:colon], ref[colon + 1 :]) if colon > slash else (ref, "latest")


def _translate(err: Exception) -> Exception:
    text = str(err)
    if isinstance(err, docker.errors.APIError):
        explanation = getattr(err, "explanation", None) or text
        return BuildError(f"Docker: {explanation}")
    if "Connection" in text or "FileNotFoundError" in text or "connect" in text.lower():
        return unavailable(err)
    return BuildError(f"Docker: {text}")
