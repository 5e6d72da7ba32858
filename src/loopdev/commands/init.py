"""`loopdev init`: write a starter loopfile.yaml guessed from the repository."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from loopdev.commands.options import GlobalOptions, pass_options
from loopdev.config.locate import FILENAME
from loopdev.errors import UsageError

if TYPE_CHECKING:
    from loopdev.config.scaffold import Findings


@click.command("init")
@pass_options
def command(opts: GlobalOptions) -> None:
    """Write a starter loopfile.yaml from the Dockerfiles, charts and manifests found here."""
    from loopdev.config import scaffold  # lazy: keeps every other command's start-up fast
    from loopdev.config.load import display_name, resolve_loopfile

    target = (opts.file or Path(FILENAME)).absolute()
    if target.exists():
        raise UsageError(
            f"{display_name(target)} already exists; refusing to overwrite it",
            hint="edit it, or remove it first to start over",
        )
    root = target.parent
    if not root.is_dir():
        raise UsageError(f"directory {root} does not exist")
    found = scaffold.scan(root)
    text = scaffold.render(scaffold.starter(root, found))
    resolve_loopfile(target, text=text, env={})  # never write a file that would not load
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {display_name(target)}")
    for line in _summary(found):
        click.echo(f"  {line}")
    click.echo("next: add live.sync rules to images for sub-second updates, then 'loopdev up'")


def _summary(found: Findings) -> list[str]:
    match = found.matching
    lines = [f"image {ref} from {p.as_posix()}" for p, ref in match.matched.items()]
    lines += [
        f"image {name} from {p.as_posix()}: no image in the manifests or charts matches it; "
        "rename it to the repository your manifests use, or nothing is injected"
        for p, name in match.lone_dockerfiles
    ]
    lines += [
        f"{p.as_posix()} skipped: {name} is already built from another Dockerfile"
        for p, name in match.duplicates
    ]
    lines += [
        f"image {ref} (in the manifests or charts) has no Dockerfile here: deployed as written"
        for ref in match.lone_refs
    ]
    lines += [
        f"{'helm' if helm else 'loopdev'} chart in {p.as_posix() or '.'}"
        for p, helm in found.charts
    ]
    lines += [f"kustomize directory {p.as_posix() or '.'}" for p in found.kustomize]
    lines += [f"manifests in {p.as_posix() or '.'}" for p, _ in found.manifest_dirs]
    if not (found.charts or found.kustomize or found.manifest_dirs):
        lines.append("no Kubernetes manifests found: deploy points at k8s/*.yaml; put them there")
    return lines
