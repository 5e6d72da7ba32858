"""BuildKit builds through the docker CLI (the SDK speaks only the classic builder).

Finding a CLI that can: any ``docker`` on PATH (then Debian's ``/usr/bin/docker``) with the
buildx plugin builds with ``docker buildx build``; failing that, a CLI older than 23.0 has
BuildKit built in (``DOCKER_BUILDKIT=1 docker build``), provided its engine does (18.09+,
Linux). A 23+ CLI without buildx refuses ``DOCKER_BUILDKIT=1``, so it is skipped, not used.

The CLI sends the context directory itself (BuildKit transfers only what changed since the
last build) under the same ignore rules the content digest applied. The subprocess runs on
the event loop's child watcher, never blocking it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loopdev.build.progress import BuildkitTranscript, buildkit_noise
from loopdev.errors import BuildError

LineSink = Callable[[str], None]
CliMode = Literal["buildx", "builtin"]
DEBIAN_CLI = "/usr/bin/docker"
_PROBE_TIMEOUT = 15.0
_VERSION = re.compile(r"^(\d+)\.(\d+)")


@dataclass(frozen=True)
class BuildkitCli:
    """A docker CLI that builds with BuildKit, and how (``buildx`` or built in)."""

    path: str
    mode: CliMode
    version: str


@dataclass(frozen=True)
class CliProbe:
    """The CLI found (or None) and, per CLI tried, why it was not used (for the error)."""

    cli: BuildkitCli | None
    rejected: tuple[str, ...] = ()


def candidates(path_env: str | None, extra: Iterable[str] = (DEBIAN_CLI,)) -> list[str]:
    """Every executable ``docker`` on PATH in order, then ``extra``; one per real file."""
    dirs = [d for d in (path_env or "").split(os.pathsep) if d]
    seen: set[str] = set()
    out: list[str] = []
    for path in [os.path.join(d, "docker") for d in dirs] + list(extra):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            continue
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            out.append(path)
    return out


def _major_minor(version: str) -> tuple[int, int] | None:
    m = _VERSION.match(version.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def builtin_verdict(client: str, server: str, server_os: str) -> str | None:
    """Why ``DOCKER_BUILDKIT=1 <cli> build`` cannot work (None: it can); pure."""
    cv, sv = _major_minor(client), _major_minor(server)
    if cv is None:
        return f"cannot read the client version {client!r}"
    if cv >= (23, 0):
        return f"CLI {client} without the buildx plugin (23.0+ needs buildx for BuildKit)"
    if cv < (18, 9):
        return f"CLI {client} is older than 18.09"
    if sv is None or sv < (18, 9):
        return f"engine {server or '?'} has no BuildKit (needs 18.09+)"
    if server_os and server_os != "linux":
        return f"engine runs {server_os} containers (BuildKit needs a Linux engine)"
    return None


async def _run(argv: Sequence[str], env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """Run a short probe command; (exit code, combined output). Never raises for the CLI."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    except OSError as err:
        return 127, str(err)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), _PROBE_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return 124, f"{' '.join(argv)} did not answer in {_PROBE_TIMEOUT:.0f} s"
    return proc.returncode or 0, out.decode(errors="replace").strip()


async def probe_cli(path: str) -> tuple[BuildkitCli | None, str]:
    """Whether ``path`` builds with BuildKit against the current engine; (cli, why not)."""
    code, out = await _run([path, "buildx", "version"])
    if code == 0:
        return BuildkitCli(path, "buildx", out.splitlines()[0] if out else "buildx"), ""
    fmt = "{{.Client.Version}}|{{.Server.Version}}|{{.Server.Os}}"
    code, out = await _run([path, "version", "--format", fmt])
    parts = out.splitlines()[-1].split("|") if out else []
    if code != 0 or len(parts) != 3:
        return None, (out.splitlines() or ["no output"])[-1][:200]
    why = builtin_verdict(*parts)
    return (None, why) if why else (BuildkitCli(path, "builtin", parts[0]), "")


async def find_buildkit_cli(paths: Sequence[str] | None = None) -> CliProbe:
    """The first CLI with buildx, else the first with BuildKit built in (probes in parallel)."""
    paths = candidates(os.environ.get("PATH")) if paths is None else list(paths)
    if not paths:
        return CliProbe(None, ("no docker CLI on PATH",))
    found = await asyncio.gather(*(probe_cli(p) for p in paths))
    clis = [cli for cli, _ in found if cli is not None]
    best = next((c for c in clis if c.mode == "buildx"), None) or next(iter(clis), None)
    rejected = tuple(f"{p}: {why}" for p, (c, why) in zip(paths, found, strict=True) if c is None)
    return CliProbe(best, rejected)


@dataclass(frozen=True)
class CliBuild:
    """One CLI build: the context directory, the Dockerfile text and ignore rules, options."""

    context: str
    dockerfile_text: str
    ignore: Sequence[str]  # .dockerignore patterns: the ones the content digest applied
    tag: str
    build_args: Mapping[str, str]
    target: str | None
    labels: Mapping[str, str]
    secrets: Sequence[str] = ()  # "id=x,src=/path" / "id=x,env=VAR"
    ssh: Sequence[str] = ()  # "default" / "id=/path/to/key-or-socket"


def build_argv(
    cli: BuildkitCli, b: CliBuild, dockerfile: str, iidfile: str
) -> tuple[list[str], dict[str, str]]:
    """argv and extra environment for one build (pure)."""
    head = [cli.path, "buildx", "build", "--load"] if cli.mode == "buildx" else [cli.path, "build"]
    argv = [*head, "--progress=plain", "--iidfile", iidfile, "-t", b.tag, "-f", dockerfile]
    for key, value in b.build_args.items():
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in b.labels.items():
        argv += ["--label", f"{key}={value}"]
    if b.target:
        argv += ["--target", b.target]
    for spec in b.secrets:
        argv += ["--secret", spec]
    for spec in b.ssh:
        argv += ["--ssh", spec]
    argv.append(b.context)
    env = {"DOCKER_BUILDKIT": "1"} if cli.mode == "builtin" else {}
    return argv, env


async def cli_build(cli: BuildkitCli, b: CliBuild, on_line: LineSink) -> str:
    """Run the build, streaming its progress to ``on_line``; the image id. Cancel: SIGINT,
    then SIGKILL, so the CLI closes its BuildKit session and the engine stops the solve.

    The Dockerfile goes in a temporary directory beside ``Dockerfile.dockerignore``, which
    BuildKit reads instead of the context's ``.dockerignore``: the loopfile's ``ignore``
    patterns apply too, and nothing is written into the user's tree.
    """
    with tempfile.TemporaryDirectory(prefix="loopdev-build-") as tmp:
        dockerfile, iidfile = Path(tmp) / "Dockerfile", Path(tmp) / "iid"
        dockerfile.write_text(b.dockerfile_text, encoding="utf-8")
        Path(tmp, "Dockerfile.dockerignore").write_text("\n".join(b.ignore) + "\n")
        argv, env = build_argv(cli, b, str(dockerfile), str(iidfile))
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, **env},
                start_new_session=True,
                limit=1 << 20,  # BuildKit prints long lines (e.g. a RUN's full command)
            )
        except OSError as err:
            raise BuildError(f"cannot run {cli.path}: {err}") from None
        transcript = BuildkitTranscript()
        try:
            assert proc.stdout is not None
            async for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip("\r\n")
                transcript.feed(line)
                if not buildkit_noise(line):
                    on_line(line)
            code = await proc.wait()
        except asyncio.CancelledError:
            await _stop(proc)
            raise
        if code != 0:
            raise BuildError(transcript.failure(code))
        image_id = iidfile.read_text().strip() if iidfile.is_file() else ""
    return image_id or b.tag


async def _stop(proc: asyncio.subprocess.Process) -> None:
    # SIGINT lets the CLI cancel the solve (about 1 s); a CLI slower than that is killed,
    # and the engine cancels the solve when the CLI's session drops.
    for sig, grace in ((signal.SIGINT, 3.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            await asyncio.wait_for(proc.wait(), grace)
            return
        except TimeoutError:
            continue
