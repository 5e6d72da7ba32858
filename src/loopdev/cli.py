"""The ``loopdev`` command line: global options, the command list, one error handler.

Each command lives in ``loopdev.commands.<name>``; this module only wires them and maps
errors to exit codes (0 ok, 1 runtime failure, 2 usage or config error).
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import NoReturn

import click

from loopdev import __version__
from loopdev.commands.complete import complete_profiles
from loopdev.commands.options import (
    CONTEXT_HELP,
    DEBUG_HELP,
    DEFAULT_REPO_HELP,
    FILE_HELP,
    NAMESPACE_HELP,
    PROFILE_HELP,
    GlobalOptions,
    with_global_options,
)
from loopdev.errors import EXIT_RUNTIME, EXIT_USAGE, LoopdevError

# Command name -> module under loopdev.commands. Modules load only when their command runs
# (or for --help), so `loopdev build` does not pay for jsonschema, textual or kubernetes.
COMMANDS = ("up", "down", "ci", "trigger", "render", "build", "validate", "init", "version")


class LoopdevGroup(click.Group):
    """Runs every command under one handler: clean errors, no traceback without --debug."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(f"loopdev.commands.{cmd_name}")
        return with_global_options(module.command)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except LoopdevError as err:
            _report(ctx, err.render())
            ctx.exit(err.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            ctx.exit(130)
        except Exception as err:  # noqa: BLE001 - the one place unexpected errors are reported
            _report(ctx, f"unexpected error: {type(err).__name__}: {err}")
            ctx.exit(EXIT_RUNTIME)
        return None


def _report(ctx: click.Context, text: str) -> None:
    opts = ctx.find_object(GlobalOptions)
    if opts is not None and opts.debug:
        traceback.print_exc()
    from loopdev.redact import scrub

    click.echo(f"loopdev: {scrub(text)}", err=True)


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=LoopdevGroup, context_settings=CONTEXT_SETTINGS)
@click.option(
    "-f",
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="LOOPDEV_FILE",
    help=FILE_HELP,
)
@click.option(
    "-p",
    "--profile",
    "profiles",
    multiple=True,
    help=PROFILE_HELP,
    shell_complete=complete_profiles,
)
@click.option("--context", help=CONTEXT_HELP)
@click.option("--namespace", help=NAMESPACE_HELP)
@click.option("--default-repo", envvar="LOOPDEV_DEFAULT_REPO", help=DEFAULT_REPO_HELP)
@click.option("--debug", is_flag=True, help=DEBUG_HELP)
@click.version_option(__version__, "--version", prog_name="loopdev")
@click.pass_context
def main_group(
    ctx: click.Context,
    file: Path | None,
    profiles: tuple[str, ...],
    context: str | None,
    namespace: str | None,
    default_repo: str | None,
    debug: bool,
) -> None:
    """loopdev: save a file, see it running in your Kubernetes cluster.

    The options above may also follow the command (`loopdev up -p dev`).
    Shell completion: see `docs/completion.md`.
    """
    from loopdev.redact import scrub_python_logs

    scrub_python_logs()
    ctx.obj = GlobalOptions(file, profiles, context, namespace, debug, default_repo=default_repo)


def main() -> None:
    """Console-script entry point."""
    try:
        main_group.main(prog_name="loopdev")
    except SystemExit as exc:
        code = exc.code
        if code is not None and not isinstance(code, int):
            code = EXIT_USAGE
        _exit(code or 0)


def _exit(code: int) -> NoReturn:
    """End the process as the interpreter would (atexit handlers, stdio flushed), minus its
    module-by-module teardown: with the kubernetes client loaded (~700 modules) that costs
    0.1-0.25 s after a `ci`, and nothing of loopdev's relies on it. Worker threads that are
    finishing (a closed pool's) get half a second; one still running then, or stdout that
    cannot be flushed (e.g. a closed pipe), takes the ordinary path, which waits for the
    thread or reports the pipe as the interpreter does."""
    main = threading.main_thread()
    deadline = time.monotonic() + 0.5
    for thread in threading.enumerate():
        if thread is not main and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    if any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)
