"""`loopdev render`."""

from __future__ import annotations

import click

from loopdev.commands.options import GlobalOptions, pass_options
from loopdev.errors import NotImplementedYet


@click.command("render")
@pass_options
def command(opts: GlobalOptions) -> None:
    """TODO: one-line help for render."""
    raise NotImplementedYet("render")
