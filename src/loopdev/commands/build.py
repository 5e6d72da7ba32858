"""`loopdev build`: build what changed, reuse what the cluster already has, print the refs."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from loopdev.commands.complete import complete_images
from loopdev.commands.options import GlobalOptions, pass_options

if TYPE_CHECKING:
    from loopdev.build.builder import BuildResult
    from loopdev.config.model import Loopfile


@click.command("build")
@click.argument("images", nargs=-1, shell_complete=complete_images)
@click.option("--force", is_flag=True, help="Build even when the tag already exists.")
@click.option("-q", "--quiet", is_flag=True, help="Do not print build output.")
@pass_options
def command(opts: GlobalOptions, images: tuple[str, ...], force: bool, quiet: bool) -> None:
    """Build images whose content changed; reuse those the cluster already has."""
    from loopdev.config.load import load_from_options

    config = load_from_options(opts, command="build")
    results = asyncio.run(_build(config, opts.context, images or None, force, quiet))
    width = max((len(r.image) for r in results), default=0)
    for r in results:
        verb = "reused" if r.reused else "built"
        click.echo(f"{r.image:<{width}}  {r.ref}  {verb} in {_seconds(r.duration)}")


async def _build(
    config: Loopfile, context: str | None, names: Sequence[str] | None, force: bool, quiet: bool
) -> list[BuildResult]:
    from loopdev.adapters.docker import DockerAdapter
    from loopdev.build.builder import ImageBuilder
    from loopdev.build.delivery import detect_delivery, lookup_client, needs_cluster_lookup
    from loopdev.build.kubeinfo import kube_target

    kube_context, server = kube_target(context)
    docker = await DockerAdapter.connect()
    kube = None
    settings = config.build
    if needs_cluster_lookup(settings.delivery, settings.registry, kube_context, os.environ):
        kube = lookup_client(kube_context)
    try:
        delivery = await detect_delivery(config, kube_context, server, kube, docker)
    finally:
        if kube is not None:
            kube.close()

    def on_log(image: str, line: str) -> None:
        if not quiet:
            click.echo(click.style(f"[{image}] {line}", dim=True), err=True)

    builder = ImageBuilder(config, docker, delivery, on_log)
    try:
        results = await builder.build(names, force=force)
    finally:
        await builder.drain()
    return list(results.values())


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"
