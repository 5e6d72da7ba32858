"""The ``live.restart`` wrapper: which containers get it, the argv it keeps, and the script's
behaviour under a real POSIX shell (go, restart, signal forwarding, exit status)."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from loopdev.config.model import Deploy, Image, LiveUpdate, Loopfile, SyncRule
from loopdev.render.pipeline import render_objects
from loopdev.render.restart_wrap import (
    RESTART_ANNOTATION,
    RESTART_GRACE,
    SHELL,
    WRAPPER_SCRIPT,
    ImageProcess,
    original_argv,
    wrap_restart_containers,
    wrapped_containers,
    wrapper_command,
)

REF = "app:loopdev-0123456789abcdef"
SH_PROCESS = ImageProcess(("/entry",), ("serve", "--port", "80"), shell=True)


def config(tmp_path: Path, restart: bool = True) -> Loopfile:
    live = LiveUpdate(sync=(SyncRule("src/", "/app/"),), restart=restart)
    image = Image("app", tmp_path, tmp_path / "Dockerfile", live=live)
    return Loopfile(
        path=tmp_path / "loopfile.yaml",
        root=tmp_path,
        name="p",
        namespace="ns",
        images={"app": image},
        deploy=Deploy(kind="manifests", manifests=("k8s/*.yaml",)),
    )


def deployment(**container: Any) -> dict[str, Any]:
    main = {"name": "main", "image": REF, **container}
    side = {"name": "side", "image": "busybox:1"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [main, side]}}},
    }


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list(obj["spec"]["template"]["spec"]["containers"])


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        ({}, ["/entry", "serve", "--port", "80"]),  # ENTRYPOINT + CMD
        ({"args": ["x"]}, ["/entry", "x"]),  # args replace CMD only
        ({"command": ["/bin/app"]}, ["/bin/app"]),  # command drops the image's CMD too
        ({"command": ["/bin/app"], "args": ["-v"]}, ["/bin/app", "-v"]),
    ],
)
def test_the_original_argv_follows_kubernetes_semantics(
    container: dict[str, Any], expected: list[str]
) -> None:
    assert original_argv(container, SH_PROCESS) == expected


def test_the_image_part_of_the_argv_unknown_is_none() -> None:
    assert original_argv({}, None) is None
    assert original_argv({"command": ["a"]}, None) == ["a"]
    assert original_argv({}, ImageProcess(shell=True)) is None


def test_only_containers_of_restart_images_are_wrapped(tmp_path: Path) -> None:
    obj = deployment()
    notes = wrap_restart_containers([obj], config(tmp_path), {"app": REF}, {"app": SH_PROCESS})
    main, side = containers(obj)
    assert notes == []
    assert main["command"] == wrapper_command() == [SHELL, "-c", WRAPPER_SCRIPT, "loopdev-restart"]
    assert main["args"] == ["/entry", "serve", "--port", "80"]
    assert "command" not in side and "args" not in side
    meta = obj["spec"]["template"]["metadata"]
    assert meta["annotations"][RESTART_ANNOTATION] == "main"
    assert wrapped_containers({"metadata": meta}) == {"main"}

    again = wrap_restart_containers([obj], config(tmp_path), {"app": REF}, {"app": SH_PROCESS})
    assert again == [] and containers(obj)[0]["args"] == main["args"]  # idempotent


def test_no_restart_no_wrapper(tmp_path: Path) -> None:
    obj = deployment()
    wrap_restart_containers([obj], config(tmp_path, restart=False), {"app": REF}, {})
    assert "command" not in containers(obj)[0]
    assert "annotations" not in obj["spec"]["template"].get("metadata", {})


@pytest.mark.parametrize(
    ("processes", "spec", "why"),
    [
        ({}, {}, "not built yet"),
        ({"app": dataclasses.replace(SH_PROCESS, shell=False)}, {}, "no /bin/sh"),
        ({"app": SH_PROCESS}, {"shareProcessNamespace": True}, "process namespace"),
    ],
)
def test_a_container_that_cannot_be_wrapped_is_left_alone_and_said(
    tmp_path: Path, processes: dict[str, ImageProcess], spec: dict[str, Any], why: str
) -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"].update(spec)
    notes = wrap_restart_containers([obj], config(tmp_path), {"app": REF}, processes)
    assert "command" not in containers(obj)[0]
    assert len(notes) == 1 and why in notes[0] and "Deployment/web container main" in notes[0]
    assert "replaces its pod" in notes[0]


def test_render_objects_wraps_only_when_given_processes(tmp_path: Path) -> None:
    (tmp_path / "k8s").mkdir()
    import yaml

    (tmp_path / "k8s" / "app.yaml").write_text(yaml.safe_dump(deployment(image="app")))
    cfg = config(tmp_path)
    plain = render_objects(cfg, {"app": REF})
    assert "command" not in containers(plain[0])[0]  # `ci`: no wrapper
    notes: list[str] = []
    live = render_objects(cfg, {"app": REF}, processes={"app": SH_PROCESS}, notes=notes)
    assert containers(live[0])[0]["command"] == wrapper_command() and notes == []


# ---- the script itself, under this machine's /bin/sh (the image's is busybox) ------------


class Wrapped:
    def __init__(self, tmp_path: Path, program: str) -> None:
        self.out = tmp_path / "out"
        self.proc = subprocess.Popen(
            [SHELL, "-c", WRAPPER_SCRIPT, "loopdev-restart", SHELL, "-c", program],
            stdout=self.out.open("w"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "OUT": str(self.out)},
        )

    def text(self) -> str:
        return self.out.read_text()

    def lines(self, word: str) -> int:
        return sum(1 for line in self.text().splitlines() if line.split(" ")[0] == word)

    def until(self, check: Any, what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.02)
        raise AssertionError(f"{what}; output so far: {self.text()!r}")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)


SERVER = "echo start $$; trap 'echo stop $$; exit 7' TERM; while :; do sleep 0.05; done"


def test_the_script_waits_for_go_restarts_on_hup_and_forwards_term(tmp_path: Path) -> None:
    w = Wrapped(tmp_path, SERVER)
    try:
        time.sleep(0.3)
        assert w.lines("start") == 0  # waits for loopdev's go
        w.signal(signal.SIGUSR1)
        w.until(lambda: w.lines("start") == 1, "started after the go")
        w.signal(signal.SIGHUP)
        w.until(lambda: w.lines("start") == 2, "restarted after HUP")
        assert "stop" in w.text() and "restarting the process" in w.text()
        assert w.proc.poll() is None  # the wrapper itself stays: same container
        w.signal(signal.SIGTERM)
        assert w.proc.wait(10) == 7  # the process's own exit status
        assert w.lines("stop") == 2
    finally:
        if w.proc.poll() is None:
            w.proc.kill()


def test_a_hup_before_the_start_is_a_go_and_the_exit_status_is_kept(tmp_path: Path) -> None:
    w = Wrapped(tmp_path, "echo ran; exit 3")
    try:
        time.sleep(0.2)
        w.signal(signal.SIGHUP)
        assert w.proc.wait(10) == 3  # it ran once and its status is the container's
        assert w.lines("ran") == 1
    finally:
        if w.proc.poll() is None:
            w.proc.kill()


@pytest.mark.parametrize(
    ("once", "live", "wrapped"), [(False, True, True), (True, True, False), (False, False, False)]
)
def test_only_a_live_up_asks_for_the_wrapper(
    tmp_path: Path, once: bool, live: bool, wrapped: bool
) -> None:
    """`ci` and `up --no-live` never wrap (no notes either); a live `up` does, and says why
    when it cannot (here: the image is not built)."""
    import yaml

    from loopdev.engine.reconciler import SessionContext, SessionOptions
    from loopdev.reconcilers.deploy import render_for

    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "app.yaml").write_text(yaml.safe_dump(deployment(image="app")))
    cfg = config(tmp_path)
    ctx = SessionContext(
        config=cfg,
        store=None,  # type: ignore[arg-type]
        logs=None,  # type: ignore[arg-type]
        kube_context="kind-test",
        namespace="ns",
        options=SessionOptions(live=live, once=once),
        image_refs={"app": "app:loopdev-not-built-anywhere"},
    )
    objects = render_for(ctx)
    assert "command" not in containers(objects[0])[0]  # never built: unknown CMD
    notes = ctx.shared["render_notes"]
    assert bool(notes) == wrapped
    if wrapped:
        assert "not built yet" in notes[0]


def test_a_process_that_ignores_term_is_killed_and_restarted(tmp_path: Path) -> None:
    """Before, the restart waited on it forever: the sync was applied and nothing ran it."""
    stubborn = "echo start $$; trap '' TERM; while :; do sleep 0.05; done"
    w = Wrapped(tmp_path, stubborn)
    try:
        time.sleep(0.3)  # the wrapper's traps are set
        w.signal(signal.SIGUSR1)
        w.until(lambda: w.lines("start") == 1, "started after the go")
        began = time.monotonic()
        w.signal(signal.SIGHUP)
        w.until(lambda: w.lines("start") == 2, "restarted after the grace", RESTART_GRACE + 5)
        assert time.monotonic() - began >= RESTART_GRACE - 0.5
        w.signal(signal.SIGHUP)  # the next restart gets its own grace, and works the same
        w.until(lambda: w.lines("start") == 3, "restarted again", RESTART_GRACE + 5)
    finally:
        w.proc.kill()
