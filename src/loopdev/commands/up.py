"""`loopdev up`: build, deploy and follow the project; Ctrl-C leaves the cluster as it is."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, overload

import click

from loopdev.commands.options import GlobalOptions, pass_options
from loopdev.commands.signals import sigterm_as_ctrl_c

F = TypeVar("F", bound=Callable[..., Any])


UP_OUTPUT = "the dashboard on a terminal, else plain"


@overload
def session_options(fn: F) -> F: ...
@overload
def session_options(*, output_default: str) -> Callable[[F], F]: ...
def session_options(fn: F | None = None, *, output_default: str = UP_OUTPUT) -> Any:
    """Options `up` and `ci` share; ``output_default`` words what ``--output`` defaults to.
    Usable bare (``@session_options``) or called (``@session_options(output_default=...)``)."""

    def decorate(fn: F) -> F:
        fn = click.option(
            "--output",
            "output",
            type=click.Choice(["plain", "json"]),
            default=None,
            help=(
                f"Event stream on stdout: plain lines, or json (one JSON object per line, "
                f"human messages on stderr). Default: {output_default}."
            ),
        )(fn)
        fn = click.option("--set", "set_values", multiple=True, help="Override a value: a.b=c.")(fn)
        fn = click.option(
            "--values", "values_files", multiple=True, type=click.Path(), help="Extra values file."
        )(fn)
        return fn

    return decorate(fn) if fn is not None else decorate


def make_presenter(output: str | None) -> Any:
    from loopdev.output import JsonOutput, PlainOutput, color_enabled

    if output == "json":
        return JsonOutput(sys.stdout)
    return PlainOutput(sys.stdout, color=color_enabled(sys.stdout))


def open_session(
    opts: GlobalOptions,
    command: str,
    *,
    presenter: Any,
    live: bool = True,
    once: bool = False,
    set_values: tuple[str, ...] = (),
    values_files: tuple[str, ...] = (),
) -> Any:
    """Load the loopfile, check the context, connect, and assemble a (not yet started) session."""
    from loopdev.config.load import load_from_options
    from loopdev.deploy.connect import connect
    from loopdev.engine.reconciler import SessionOptions
    from loopdev.engine.session import Session

    config = load_from_options(opts, command=command)
    kube = connect(config, opts.context)
    absolute = tuple(str(Path(v).resolve()) for v in values_files)  # relative to the cwd
    options = SessionOptions(live=live, once=once, set_values=set_values, values_files=absolute)
    return Session(
        config,
        kube,
        kube.target.context,
        options=options,
        presenter=presenter,
        reload=lambda: load_from_options(opts, command=command),  # follows loopfile edits
    )


@click.command("up")
@session_options
@click.option("--no-tui", is_flag=True, help="Plain prefixed lines instead of the dashboard.")
@click.option("--no-live", is_flag=True, help="No live update: every change rebuilds.")
@pass_options
def command(
    opts: GlobalOptions,
    output: str | None,
    set_values: tuple[str, ...],
    values_files: tuple[str, ...],
    no_tui: bool,
    no_live: bool,
) -> None:
    """Build, deploy and watch the project until Ctrl-C (resources keep running)."""
    sigterm_as_ctrl_c()
    tui = output is None and not no_tui and sys.stdout.isatty()
    session = open_session(
        opts,
        "up",
        presenter=None if tui else make_presenter(output),
        live=not no_live,
        set_values=set_values,
        values_files=values_files,
    )
    if not tui and output != "json" and sys.stdin.isatty():
        session.ctx.shared["keyboard"] = True  # plain mode: Enter / NAME+Enter trigger
    try:
        if tui:
            if asyncio.run(_with_dashboard(session)) == "down":
                _down(session)
        else:
            shutdown = asyncio.run(session.run_forever())
            if shutdown is not None and shutdown.down:
                _down(session, to_stderr=output == "json")
    except KeyboardInterrupt:
        # stdout carries only JSON objects under --output json: human lines go to stderr
        click.echo(
            "\nloopdev: stopped; resources keep running (`loopdev down` removes them)",
            err=output == "json",
        )
    finally:
        session.ctx.kube.close()


async def _with_dashboard(session: Any) -> str:
    from loopdev.tui.app import kube_events, run_dashboard

    await session.start()
    events = kube_events(session.ctx.kube, session.ctx.namespace, session.store, session.watch)
    try:
        return str(await run_dashboard(session.store, session.logs, events=events))
    finally:
        await session.stop()


def _down(session: Any, *, to_stderr: bool = False) -> None:
    from loopdev.deploy.down import describe_all, tear_down_all

    cfg = session.ctx.config
    reports = asyncio.run(tear_down_all(session.ctx.kube, session.ctx.namespaces(), cfg.name))
    click.echo(describe_all(reports), err=to_stderr)
