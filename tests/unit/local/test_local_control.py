from __future__ import annotations

import asyncio
import io
import os
import sys
from pathlib import Path
from types import MappingProxyType

import pytest

from loopdev.config.model import Deploy, Loopfile
from loopdev.engine import actions as a
from loopdev.engine.control import (
    handle_request,
    keyboard_targets,
    read_keyboard,
    socket_path,
    stdin_reader,
)
from loopdev.engine.logs import LogStore
from loopdev.engine.reconciler import SessionContext
from loopdev.engine.state import EngineState, ResourceStatus
from loopdev.engine.store import Store


def _state() -> EngineState:
    res = {
        "api": ResourceStatus(name="api", kind="workload", state="ready", pending_changes=True),
        "gen": ResourceStatus(name="gen", kind="local", state="ready"),
    }
    return EngineState(project="shop", resources=MappingProxyType(res), order=("api", "gen"))


def test_trigger_known_resource_dispatches_trigger_requested() -> None:
    reply, action = handle_request(_state(), {"op": "trigger", "name": "api"})
    assert reply == {"ok": True, "message": "triggered api (pending changes will be applied)"}
    assert action == a.TriggerRequested("api")
    _reply, action = handle_request(_state(), {"op": "trigger", "name": "gen", "force_rebuild": 1})
    assert action == a.TriggerRequested("gen", force_rebuild=True)


def test_unknown_resource_and_op_are_refused_with_valid_choices() -> None:
    reply, action = handle_request(_state(), {"op": "trigger", "name": "web"})
    assert action is None
    assert reply == {"ok": False, "error": "no resource named 'web'; resources: api, gen"}
    reply, action = handle_request(_state(), {"op": "explode"})
    assert action is None and "expected 'trigger' or 'status'" in reply["error"]


def test_status_lists_resource_states() -> None:
    reply, _ = handle_request(_state(), {"op": "status"})
    assert reply["resources"] == {"api": "ready", "gen": "ready"}


def test_keyboard_enter_triggers_pending_and_names_or_numbers_pick_one() -> None:
    assert keyboard_targets("\n", _state()) == (["api"], "")
    assert keyboard_targets("gen\n", _state()) == (["gen"], "")
    assert keyboard_targets("2\n", _state()) == (["gen"], "")
    assert keyboard_targets("zzz\n", _state()) == (
        [],
        "no resource named 'zzz'; resources: api, gen",
    )


def test_socket_path_differs_per_loopfile_and_is_short(tmp_path: Path) -> None:
    one = socket_path("shop", tmp_path / "a" / "loopfile.yaml")
    two = socket_path("shop", tmp_path / "b" / "loopfile.yaml")
    assert one != two and one.parent == two.parent
    assert one.name.startswith("shop-") and len(str(one)) < 100


async def test_read_keyboard_dispatches_triggers(tmp_path: Path) -> None:
    store = Store(_state())
    seen: list[a.Action] = []
    store.subscribe(lambda _state, batch: seen.extend(batch))
    cfg = Loopfile(tmp_path / "l.yaml", tmp_path, "shop", "default", {}, Deploy(kind="manifests"))
    ctx = SessionContext(cfg, store, LogStore(), "kind-x", "default")
    reader = asyncio.StreamReader()
    reader.feed_data(b"\ngen\nnope\n")
    reader.feed_eof()
    runner = asyncio.create_task(store.run())
    await read_keyboard(ctx, reader)
    await store.settled()
    runner.cancel()
    assert seen == [a.TriggerRequested("api"), a.TriggerRequested("gen")]
    assert ctx.logs.tail("loopdev", 1)[0].startswith("no resource named 'nope'")


async def test_stdin_reader_feeds_lines_then_eof(monkeypatch: pytest.MonkeyPatch) -> None:
    r, w = os.pipe()
    fake_stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(r)))
    monkeypatch.setattr(sys, "stdin", fake_stdin)
    os.write(w, b"gen\n\n")
    os.close(w)
    reader = await stdin_reader()
    assert await asyncio.wait_for(reader.readline(), 2) == b"gen\n"
    assert await asyncio.wait_for(reader.readline(), 2) == b"\n"
    assert await asyncio.wait_for(reader.readline(), 2) == b""
    fake_stdin.close()  # the pump thread has seen EOF and finished
