"""`loopdev down`: delete what loopdev deployed for this project, and nothing else."""

from __future__ import annotations

import asyncio

import click

from loopdev.commands.options import GlobalOptions, pass_options
from loopdev.errors import DeployError


@click.command("down")
@click.option("--keep-namespace", is_flag=True, help="Do not delete the namespace loopdev created.")
@click.option(
    "--timeout", default=60.0, show_default=True, help="Seconds to wait for objects to go away."
)
@pass_options
def command(opts: GlobalOptions, keep_namespace: bool, timeout: float) -> None:
    """Delete every object carrying this project's loopdev labels, then wait until gone."""
    from loopdev.config.load import load_from_options
    from loopdev.deploy.connect import connect
    from loopdev.deploy.down import describe, tear_down

    config = load_from_options(opts, command="down")
    kube = connect(config, opts.context)
    try:
        report = asyncio.run(
            tear_down(kube, config.namespace, config.name, keep_namespace, timeout=timeout)
        )
    finally:
        kube.close()
    if report.still_there:
        raise DeployError(
            f"still there after {timeout:.0f}s: {', '.join(report.still_there)}",
            hint="run `loopdev down` again, or inspect them with kubectl",
        )
    click.echo(describe(report, config.namespace))
