"""What a built image runs (ENTRYPOINT/CMD) and whether it has ``/bin/sh``: the facts the
``live.restart`` wrapper needs (``loopdev.render.restart_wrap``), read from the local Docker
daemon, which holds every image loopdev builds.

The shell check creates (never starts) a container and asks for ``/bin/sh`` from its
filesystem: images carry no file list in their config. Answers are cached per image id.
Blocking: call it in a worker thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from loopdev.config.model import Loopfile
from loopdev.render.restart_wrap import SHELL, ImageProcess, restart_images

log = logging.getLogger(__name__)

PROBE_LABEL = "loopdev.dev/shell-probe"

_cache: dict[str, ImageProcess] = {}
_lock = threading.Lock()


def image_processes(api: Any, refs: Mapping[str, str]) -> dict[str, ImageProcess]:
    """image name -> what its built reference runs; images Docker does not have are left out."""
    import docker.errors

    out: dict[str, ImageProcess] = {}
    for name, ref in refs.items():
        try:
            attrs = api.inspect_image(ref)
        except docker.errors.ImageNotFound:
            continue
        except docker.errors.APIError as err:
            log.debug("cannot inspect %s: %s", ref, err)
            continue
        image_id = str(attrs.get("Id") or ref)
        with _lock:
            found = _cache.get(image_id)
        if found is None:
            cfg = attrs.get("Config") or {}
            found = ImageProcess(
                tuple(cfg.get("Entrypoint") or ()),
                tuple(cfg.get("Cmd") or ()),
                _has_shell(api, image_id),
            )
            with _lock:
                _cache[image_id] = found
        out[name] = found
    return out


def _has_shell(api: Any, image_id: str) -> bool:
    import docker.errors

    container = api.create_container(
        image_id, entrypoint=[SHELL], command=[], labels={PROBE_LABEL: "1"}
    )
    cid = container["Id"]
    try:
        stream, _stat = api.get_archive(cid, SHELL)
        for _chunk in stream:  # drain, so the connection is reusable
            pass
        return True
    except docker.errors.NotFound:
        return False
    finally:
        try:
            api.remove_container(cid, force=True)
        except docker.errors.APIError as err:
            log.debug("cannot remove the shell probe %s: %s", cid, err)


def connect_api() -> Any:
    """A low-level client from the environment (``loopdev render`` has no build adapter)."""
    from loopdev.adapters.docker import DockerAdapter

    return DockerAdapter.from_env_sync().api


def restart_processes(
    config: Loopfile, refs: Mapping[str, str], api: Any = None
) -> dict[str, ImageProcess]:
    """What each ``live.restart`` image runs, for ``render_objects(processes=...)``: the one
    call both ``up`` and ``render`` make. No Docker: nothing is known (nothing is wrapped)."""
    import docker.errors

    from loopdev.errors import LoopdevError
    from loopdev.render.refs import normalise_refs

    names = restart_images(config)
    wanted = {n: r for n, r in normalise_refs(config, refs).items() if n in names}
    if not wanted:
        return {}
    try:
        return image_processes(api if api is not None else connect_api(), wanted)
    except (LoopdevError, docker.errors.DockerException, OSError) as err:
        log.debug("no image facts for the restart wrapper: %s", err)
        return {}
