"""Custom build commands (``images.<name>.custom``), like Skaffold's custom builder and
Tilt's ``custom_build``: the user's command builds the image, loopdev names the result.

The command runs through ``/bin/sh`` in the context directory, in its own process group
(so cancelling a superseded build stops everything it started), with ``$IMAGE`` set to the
reference loopdev expects (the content-digest tag) and ``$BUILD_CONTEXT`` to the context.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from loopdev.config.model import Image
from loopdev.errors import BuildError
from loopdev.local.process import ManagedProcess

_TAIL = 20


def custom_env(image: Image, ref: str) -> dict[str, str]:
    """What the command is told: the reference to produce and where its sources are."""
    return {"IMAGE": ref, "BUILD_CONTEXT": str(image.context)}


async def run_custom_build(image: Image, ref: str, on_line: Callable[[str], None]) -> None:
    """Run the command to completion, streaming its output; a non-zero exit is a BuildError."""
    assert image.custom is not None
    tail: deque[str] = deque(maxlen=_TAIL)

    def line(text: str) -> None:
        tail.append(text)
        on_line(text)

    proc = ManagedProcess(
        image.custom.cmd, cwd=image.context, env=custom_env(image, ref), on_line=line
    )
    try:
        await proc.start()
    except OSError as err:
        raise BuildError(f"cannot start the custom build command: {err}") from None
    try:
        code = await proc.wait()
    except asyncio.CancelledError:
        await proc.stop()
        raise
    await proc.reap_group()
    if code != 0:
        shown = "\n".join(f"  | {t}" for t in tail if t.strip())
        text = f"custom build command failed (exit code {code}): {image.custom.cmd}"
        raise BuildError(f"{text}\n{shown}" if shown else text)
