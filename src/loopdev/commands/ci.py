"""`loopdev ci`."""

from __future__ import annotations

import click

from loopdev.commands.options import GlobalOptions, pass_options
from loopdev.errors import NotImplementedYet


@click.command("ci")
@pass_options
def command(opts: GlobalOptions) -> None:
    """TODO: one-line help for ci."""
    raise NotImplementedYet("ci")
