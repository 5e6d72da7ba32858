"""`loopdev down`: delete what loopdev deployed for this project, and nothing else."""

from __future__ import annotations

import asyncio

import click

from loopdev.commands.options import GlobalOptions, pass_options
from loopdev.errors import DeployError


@click.command("down")
@click.option(
    "--keep-namespace", is_flag=True, help="Do not delete the namespace, even one loopdev created."
)
@click.option(
    "--timeout",
    default=60.0,
    show_default=True,
    help="Seconds to wait for deleted objects to be gone.",
)
@pass_options
def command(opts: GlobalOptions, keep_namespace: bool, timeout: float) -> None:
    """Delete every object carrying this project's loopdev labels (and the namespace loopdev
    created, when nothing else is in it), then wait until what was deleted is gone."""
    from loopdev.config.load import load_from_options
    from loopdev.config.namespaces import used_namespaces
    from loopdev.deploy.connect import connect
    from loopdev.deploy.down import describe_all, tear_down_all
    from loopdev.deploy.ownership import capped

    config = load_from_options(opts, command="down")
    kube = connect(config, opts.context)
    namespaces = used_namespaces(config)
    try:
        reports = asyncio.run(
            tear_down_all(kube, namespaces, config.name, keep_namespace, timeout=timeout)
        )
    finally:
        kube.close()
    click.echo(describe_all(reports))
    still_there = [name for _, report in reports for name in report.still_there]
    if still_there:
        raise DeployError(
            f"still there after {timeout:.0f}s: {capped(still_there)}",
            hint="run `loopdev down` again, or inspect them with kubectl",
        )
