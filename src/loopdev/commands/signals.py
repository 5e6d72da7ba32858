"""Stop signals for long-running commands.

IDE stop buttons, `kill` and CI runners send SIGTERM, not Ctrl-C. Without a handler Python
dies on it at once and local commands' process groups are left running; routed through
SIGINT, it takes the same path as Ctrl-C: asyncio.run cancels the main task, every
reconciler's cleanup runs, and the command reports that resources keep running.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


def _as_interrupt(signum: int, frame: FrameType | None) -> None:
    signal.raise_signal(signal.SIGINT)


def sigterm_as_ctrl_c() -> None:
    """Make SIGTERM behave like Ctrl-C in this process (main thread only).

    A job started with `&` by a non-interactive shell inherits SIGINT as ignored; asyncio
    then installs no Ctrl-C handler and a relayed SIGINT would be lost, so the default
    handler is put back first.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _as_interrupt)
