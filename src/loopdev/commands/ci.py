"""`loopdev ci`: deploy once and wait until everything is ready (exit 0) or fails (exit 1)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from loopdev.commands.options import GlobalOptions, pass_options
from loopdev.commands.signals import sigterm_as_ctrl_c
from loopdev.commands.up import make_presenter, open_session, session_options
from loopdev.errors import DeployError

LOG_LINES = 30


@click.command("ci")
@session_options(output_default="plain")
@click.option(
    "--timeout", default=600.0, show_default=True, help="Seconds to wait for every resource."
)
@click.option("--down", "down", is_flag=True, help="Tear everything down afterwards.")
@pass_options
def command(
    opts: GlobalOptions,
    output: str | None,
    set_values: tuple[str, ...],
    values_files: tuple[str, ...],
    timeout: float,
    down: bool,
) -> None:
    """Build, deploy and wait until every resource is ready; exit 1 on failure or timeout."""
    sigterm_as_ctrl_c()
    session = open_session(
        opts,
        "ci",
        presenter=make_presenter(output or "plain"),
        once=True,
        set_values=set_values,
        values_files=values_files,
    )
    try:
        # Fail in seconds, with the cause, when the API server cannot be used at all (refused,
        # DNS, TLS, 401/403), instead of waiting out --timeout.
        session.ctx.kube.probe(session.ctx.namespace)
        verdict, report = asyncio.run(_run(session, timeout, down))
    finally:
        session.ctx.kube.close()
    if not verdict.ok:
        click.echo(report, err=True)
        raise DeployError(f"{verdict.resource}: {verdict.reason}")
    ready = f"loopdev: every resource is ready ({len(session.store.state.order)})"
    click.echo(ready, err=output == "json")  # under --output json, stdout is JSON only


async def _run(session: Any, timeout: float, down: bool) -> tuple[Any, str]:
    from loopdev.deploy.down import describe_all, tear_down_all

    verdict = await session.run_until_ready(timeout)
    lost = verdict.resource == "cluster"  # nothing more to read from a cluster that went away
    report = "" if verdict.ok or lost else await failure_report(session, verdict.resource)
    if down:
        cfg = session.ctx.config
        done = await tear_down_all(session.ctx.kube, session.ctx.namespaces(), cfg.name)
        print(describe_all(done), file=sys.stderr)
    return verdict, report


async def failure_report(session: Any, resource: str) -> str:
    """The failing resource's state, its recent events and its last log lines."""
    from loopdev.redact import scrub

    ctx = session.ctx
    res = session.store.state.resource(resource)
    lines = [f"--- {resource}: {res.state}: {res.reason}" if res else f"--- {resource}"]
    for key in res.objects if res else ():
        kind, _, name = key.partition("/")
        live = session.watch.get(kind, name) or {}
        namespace = (live.get("metadata") or {}).get("namespace") or ctx.namespace
        for ev in (await ctx.kube.events(namespace, name))[-10:]:
            lines.append(
                f"event {ev.get('type', '')} {ev.get('reason', '')}: {ev.get('message', '')}"
            )
    tail = session.logs.tail(resource, LOG_LINES)
    if tail:
        lines.append(f"--- last {len(tail)} log lines of {resource}:")
        lines.extend(tail)
    return scrub("\n".join(lines))
