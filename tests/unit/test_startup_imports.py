"""Commands that never talk to a cluster load neither the kubernetes client nor the
dashboard, aiohttp or jsonschema (on a valid loopfile); and the CLI's quick exit keeps
what an ordinary exit does: atexit handlers, buffered stdout written, the exit code, and
waiting for a thread that is still running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.deploy_support import write_project
from tests.support.imports import run_loopdev

NEVER_OFFLINE = ("kubernetes", "textual", "aiohttp", "jsonschema")


def test_validate_loads_no_cluster_client_docker_or_jinja(tmp_path: Path) -> None:
    path = write_project(tmp_path, "startup", "startup-ns")
    run = run_loopdev(["-f", str(path), "validate"])
    assert run.returncode == 0, run.stderr
    assert run.loaded("loopdev.config.load")  # the parse saw the command's imports
    assert run.loaded(*NEVER_OFFLINE, "docker", "jinja2") == []


def test_render_loads_no_cluster_client_and_writes_all_of_a_buffered_stdout(
    tmp_path: Path,
) -> None:
    path = write_project(tmp_path, "startup", "startup-ns")
    # No PYTHONUNBUFFERED: stdout is a block-buffered pipe, as in `loopdev render > out.yaml`.
    run = run_loopdev(["-f", str(path), "render"], env={"PYTHONUNBUFFERED": ""})
    assert run.returncode == 0, run.stderr
    assert run.loaded("loopdev.render")
    assert run.loaded(*NEVER_OFFLINE) == []
    kinds = [doc["kind"] for doc in yaml.safe_load_all(run.stdout) if doc]
    assert sorted(kinds) == ["ConfigMap", "Deployment"]


def test_a_usage_error_still_exits_2_with_its_message(tmp_path: Path) -> None:
    run = run_loopdev(["-f", str(tmp_path / "missing.yaml"), "validate"])
    assert run.returncode == 2
    assert "missing.yaml does not exist" in run.stderr


EXIT_PROBE = """
import atexit, sys, threading, time
from loopdev.cli import _exit
atexit.register(lambda: print("atexit ran", file=sys.stderr))
if sys.argv[1] != "plain":
    def late() -> None:
        time.sleep(float(sys.argv[1]))
        print("thread done", file=sys.stderr)
    threading.Thread(target=late).start()  # not a daemon: the interpreter waits for it
sys.stdout.write("buffered, no newline")
_exit(3)
"""


def _exit_probe(mode: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.run(
        [sys.executable, "-c", EXIT_PROBE, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_quick_exit_runs_atexit_and_flushes_stdout() -> None:
    done = _exit_probe("plain")
    assert done.returncode == 3
    assert done.stdout == "buffered, no newline"
    assert done.stderr.strip() == "atexit ran"


@pytest.mark.parametrize("seconds", ["0.3", "1.5"])  # within and past the half second it joins
def test_the_quick_exit_still_waits_for_a_running_thread(seconds: str) -> None:
    done = _exit_probe(seconds)
    assert done.returncode == 3
    assert done.stdout == "buffered, no newline"
    assert done.stderr.split() == ["thread", "done", "atexit", "ran"]
