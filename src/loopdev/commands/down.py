"""`loopdev down`: delete what loopdev deployed for this project, and nothing else."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import click

from loopdev.commands.options import GlobalOptions, pass_options
from loopdev.errors import DeployError

if TYPE_CHECKING:
    from loopdev.config.model import Loopfile


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
    from loopdev.deploy.connect import connect
    from loopdev.deploy.down import describe_all, tear_down_all
    from loopdev.deploy.ownership import capped

    config = load_from_options(opts, command="down")
    kube = connect(config, opts.context)
    namespaces = rendered_namespaces(config)
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


def rendered_namespaces(config: Loopfile) -> tuple[str, ...]:
    """The namespaces `up` would apply into: the loopfile's, and those its render names. A
    render that fails now (a broken edit) must not stop `down`: the loopfile's are used."""
    from loopdev.config.namespaces import deploy_namespaces, used_namespaces
    from loopdev.errors import LoopdevError
    from loopdev.render import render_objects

    try:  # image names for references: no digest of the contexts is needed for namespaces
        objects = render_objects(config, {name: name for name in config.images})
    except LoopdevError as err:
        first = err.message.splitlines()[0] if err.message else type(err).__name__
        click.echo(
            f"loopdev: cannot render ({first}); looking only in the loopfile's namespaces",
            err=True,
        )
        return used_namespaces(config)
    return deploy_namespaces(config, objects)
