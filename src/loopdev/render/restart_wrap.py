"""``live.restart: true``: run the container's process under a small shell wrapper that loopdev
can signal, so a sync restarts the process in place instead of replacing the pod.

Deleting the pod (the old way) starts the new process from the image's files, before the
synced ones are replayed: it runs stale code. The wrapper (DevSpace's restart helper, done
with the image's own ``/bin/sh`` rather than a file baked into the image) instead:

- waits for loopdev's go (``SIGUSR1``, sent once the pod holds every synced file) before it
  starts the process the first time, or starts it anyway after ``START_WAIT`` seconds (when
  no ``loopdev up`` is running the image's files are all there is);
- restarts the process on ``SIGHUP`` (sent after a sync; a HUP before the start is a go):
  ``SIGTERM``, then ``SIGKILL`` after ``RESTART_GRACE`` seconds for a process that ignores it;
- forwards ``SIGTERM``/``SIGINT`` to it and exits with its status.

The original argv is kept exactly: Kubernetes semantics (``command`` replaces the image's
ENTRYPOINT, ``args`` its CMD) are applied to the image's config, and the result becomes the
wrapper's ``args``. A container is left alone (and a restart falls back to replacing its pod)
when the image has no ``/bin/sh``, its process is unknown, or the pod shares its process
namespace (the wrapper must be PID 1 to be signalled). This is pure: the image facts come
from ``loopdev.adapters.image_process``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from loopdev.config.model import Loopfile
from loopdev.render.kinds import pod_metadata, pod_spec

RESTART_ANNOTATION = "loopdev.dev/restart-wrapped"  # the wrapped container names, comma-joined
SHELL = "/bin/sh"
START_WAIT = 30  # seconds a new container waits for loopdev's go before starting anyway
RESTART_GRACE = 5  # seconds a process has to exit on SIGTERM before a restart SIGKILLs it
GO_SIGNAL = "USR1"
RESTART_SIGNAL = "HUP"
WRAPPER_NAME = "loopdev-restart"  # the wrapper's $0: what `ps` shows as PID 1

WRAPPER_SCRIPT = f"""\
pid= go= again= stop= n=0 k=
trap 'stop=1; [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null' TERM INT
trap 'go=1; again=1; [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && [ -z "$k" ] && \
{{ sleep {RESTART_GRACE} && kill -KILL "$pid" 2>/dev/null & k=$!; }}' {RESTART_SIGNAL}
trap 'go=1' {GO_SIGNAL}
while [ -z "$go$stop" ] && [ "$n" -lt {START_WAIT} ]; do sleep 1 & wait $!; n=$((n+1)); done
[ -n "$stop" ] && exit 143
[ -n "$go" ] || echo "loopdev: no go from loopdev within {START_WAIT}s; starting" >&2
while :; do
  again=
  "$@" &
  pid=$!
  while :; do wait "$pid"; code=$?; kill -0 "$pid" 2>/dev/null || break; done
  [ -n "$k" ] && kill "$k" 2>/dev/null
  pid= k=
  [ -z "$stop" ] && [ -n "$again" ] || exit "$code"
  echo "loopdev: restarting the process (files synced)" >&2
done
"""


@dataclass(frozen=True)
class ImageProcess:
    """What an image runs by default, and whether it has a shell to wrap it with."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    shell: bool = False


def original_argv(container: Mapping[str, Any], process: ImageProcess | None) -> list[str] | None:
    """The argv Kubernetes would run (None when the image's part of it is unknown)."""
    command = container.get("command")
    args = container.get("args")
    if command:
        return [str(c) for c in command] + [str(a) for a in args or ()]
    if process is None:
        return None
    argv = list(process.entrypoint) + ([str(a) for a in args] if args else list(process.cmd))
    return argv or None


def wrapper_command() -> list[str]:
    return [SHELL, "-c", WRAPPER_SCRIPT, WRAPPER_NAME]


def is_wrapped(container: Mapping[str, Any]) -> bool:
    return list(container.get("command") or ()) == wrapper_command()


def restart_images(config: Loopfile) -> set[str]:
    """Image names (the repository manifests use) whose live update restarts the process."""
    return {i.name for i in config.images.values() if i.live is not None and i.live.restart}


def wrap_restart_containers(
    objects: Iterable[dict[str, Any]],
    config: Loopfile,
    refs: Mapping[str, str],
    processes: Mapping[str, ImageProcess],
) -> list[str]:
    """Wrap, in place, every container running a ``live.restart`` image; returns a line per
    container left unwrapped (its restarts replace the pod)."""
    wanted = {refs[name]: name for name in restart_images(config) if name in refs}
    notes: list[str] = []
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        wrapped: list[str] = []
        for container in spec.get("containers") or ():
            if not isinstance(container, dict) or container.get("image") not in wanted:
                continue
            where = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
            where += f" container {container.get('name')}"
            if is_wrapped(container):
                wrapped.append(str(container.get("name")))
                continue
            process = processes.get(wanted[container["image"]])
            argv = original_argv(container, process)
            why = _cannot_wrap(spec, process, argv)
            if why:
                notes.append(f"{where}: {why}; a live.restart replaces its pod")
                continue
            container["command"] = wrapper_command()
            container["args"] = argv
            wrapped.append(str(container.get("name")))
        meta = pod_metadata(obj) if wrapped else None
        if meta is not None:
            meta.setdefault("annotations", {})[RESTART_ANNOTATION] = ",".join(wrapped)
    return notes


def _cannot_wrap(
    spec: Mapping[str, Any], process: ImageProcess | None, argv: list[str] | None
) -> str:
    if process is None:
        return "the image is not built yet, so its command is unknown"
    if not process.shell:
        return f"the image has no {SHELL} to run the restart wrapper"
    if argv is None:
        return "neither the image nor the manifest says what to run"
    if spec.get("shareProcessNamespace"):
        return "the pod shares its process namespace (the wrapper must be PID 1)"
    return ""


def wrapped_containers(pod: Mapping[str, Any]) -> set[str]:
    """The containers of a pod object that run under the restart wrapper."""
    meta = pod.get("metadata") or {}
    value = (meta.get("annotations") or {}).get(RESTART_ANNOTATION) or ""
    return {name for name in str(value).split(",") if name}
