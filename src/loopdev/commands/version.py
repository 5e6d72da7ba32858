"""`loopdev version`."""

from __future__ import annotations

import platform

import click

from loopdev import __version__


@click.command("version")
def command() -> None:
    """Print loopdev's version and the Python it runs on."""
    click.echo(f"loopdev {__version__} (Python {platform.python_version()})")
