"""`loopdev validate`."""

from __future__ import annotations

import click

from loopdev.commands.options import GlobalOptions, pass_options
from loopdev.errors import NotImplementedYet


@click.command("validate")
@pass_options
def command(opts: GlobalOptions) -> None:
    """TODO: one-line help for validate."""
    raise NotImplementedYet("validate")
