"""`loopdev trigger NAME`: ask the running session to update a resource now."""

from __future__ import annotations

import click

from loopdev.commands.complete import complete_resources
from loopdev.commands.options import GlobalOptions, pass_options
from loopdev.config.load import load_from_options
from loopdev.engine.control import request, socket_path
from loopdev.errors import LoopdevError, UsageError


@click.command("trigger")
@click.argument("name", shell_complete=complete_resources)
@click.option("--rebuild", is_flag=True, help="Rebuild the image even if a live update would do.")
@pass_options
def command(opts: GlobalOptions, name: str, rebuild: bool) -> None:
    """Apply a resource's pending changes now (for `trigger: manual` resources), or re-run it."""
    config = load_from_options(opts, command="trigger")
    payload = {"op": "trigger", "name": name, "force_rebuild": rebuild}
    reply = request(socket_path(config.name, config.path), payload)
    if not reply.get("ok"):
        error = str(reply.get("error") or "the session refused the request")
        if error.startswith("no resource named"):
            raise UsageError(error)
        raise LoopdevError(error)
    click.echo(str(reply.get("message") or f"triggered {name}"))
