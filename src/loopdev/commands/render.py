"""`loopdev render`: print (or write) exactly the objects `loopdev up` applies.

The objects come from ``loopdev.render.render_objects``, the same call ``up`` makes, so CI
and GitOps pipelines commit what developers run (modulo profile and image references). Image
references are the content-digest tags as the cluster names them: the delivery ``up`` would
choose (``build.registry``, the cluster's KEP-1755 registry) prefixes them the same way.
"""

from __future__ import annotations

from pathlib import Path

import click

from loopdev.commands.options import GlobalOptions, pass_options
from loopdev.config.model import Loopfile
from loopdev.errors import UsageError

FILE_HEADER = "# Rendered by `loopdev render`; do not edit by hand: re-run it.\n"


@click.command("render")
@click.option(
    "--set",
    "set_values",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a chart value, Helm style: a.b[0].c=1, x={a,b} (repeatable; highest precedence).",
)
@click.option(
    "--values",
    "values_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A values file layered over the loopfile's values (repeatable).",
)
@click.option(
    "--images",
    "images",
    multiple=True,
    metavar="NAME=REF",
    help="Use REF for loopfile image NAME (default: the content-digest tag a build would make).",
)
@click.option(
    "-o",
    "--output",
    "output",
    default="-",
    metavar="DIR|-",
    help="'-' prints one YAML stream (default); DIR gets one file per object.",
)
@pass_options
def command(
    opts: GlobalOptions,
    set_values: tuple[str, ...],
    values_files: tuple[Path, ...],
    images: tuple[str, ...],
    output: str,
) -> None:
    """Print the Kubernetes objects the deploy renders, exactly as `up` would apply them."""
    from loopdev.adapters.image_process import restart_processes
    from loopdev.config.load import load_from_options
    from loopdev.render import render_objects, to_yaml

    config = load_from_options(opts, command="render")
    refs = image_refs(config, images)
    notes: list[str] = []
    objects = render_objects(
        config,
        refs,
        set_values=set_values,
        values_files=[p.resolve() for p in values_files],
        processes=restart_processes(config, refs),  # as a live `up` applies them
        notes=notes,
    )
    text = to_yaml(objects)
    for note in notes:
        click.echo(f"loopdev: warning: {note}", err=True)
    for name in unused_images(refs, text):
        click.echo(
            f"loopdev: warning: image {name!r} is not used by any rendered object "
            "(no container image names it)",
            err=True,
        )
    if output == "-":
        click.echo(text, nl=False)
        return
    written = write_directory(Path(output), objects)
    click.echo(f"wrote {written} file{'' if written == 1 else 's'} to {output}", err=True)


def unused_images(refs: dict[str, str], text: str) -> list[str]:
    """Loopfile images whose reference appears nowhere in the output (a typo, usually)."""
    return sorted(name for name, ref in refs.items() if ref not in text)


def image_refs(
    config: Loopfile, images: tuple[str, ...], context: str | None = None
) -> dict[str, str]:
    """``--images`` over the planned digest tags, as the cluster names them (the registry
    prefix ``up`` applies: ``planned_cluster_refs``); says so when placeholders stand in."""
    from loopdev.render.refs import planned_refs_or_placeholders

    overrides = parse_image_overrides(config, images) or {}
    planned, reason = planned_refs_or_placeholders(config)
    missing = sorted(set(planned) - set(overrides))
    if reason is not None and missing:
        click.echo(
            f"loopdev: warning: no digest tag for {', '.join(missing)} ({reason}); "
            f"using placeholders like {planned[missing[0]]!r}",
            err=True,
        )
    if missing:
        from loopdev.build.delivery import planned_cluster_refs

        if context is None:  # the command's --context (a global option)
            click_ctx = click.get_current_context(silent=True)
            found = click_ctx.find_object(GlobalOptions) if click_ctx is not None else None
            context = found.context if found is not None else None
        planned, warning = planned_cluster_refs(config, planned, context)
        if warning:
            click.echo(f"loopdev: warning: {warning}", err=True)
    return {**planned, **overrides}


def parse_image_overrides(config: Loopfile, images: tuple[str, ...]) -> dict[str, str] | None:
    """``--images NAME=REF`` as a mapping (None when none was given)."""
    if not images:
        return None
    known = {img.name for img in config.images.values()}
    out: dict[str, str] = {}
    for item in images:
        name, sep, ref = item.partition("=")
        if not sep or not name or not ref or any(ch.isspace() for ch in ref):
            raise UsageError(f"--images {item!r}: expected NAME=REF, e.g. api=api:v1.2")
        if name not in known:
            valid = ", ".join(sorted(known)) or "none: the loopfile has no images"
            raise UsageError(f"--images {item!r}: {name!r} is not a loopfile image ({valid})")
        out[name] = ref
    return out


def write_directory(directory: Path, objects: list[dict[str, object]]) -> int:
    """One file per object; files an earlier render wrote that are no longer rendered go."""
    from loopdev.render.yamlout import object_filename, object_yaml

    if directory.exists() and not directory.is_dir():
        raise UsageError(f"-o {directory}: exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    wanted = {object_filename(i, obj): obj for i, obj in enumerate(objects)}
    for stale in sorted(directory.glob("*.yaml")):
        if stale.name not in wanted and _written_by_us(stale):
            stale.unlink()
    for name, obj in wanted.items():
        (directory / name).write_text(FILE_HEADER + object_yaml(obj), encoding="utf-8")
    return len(wanted)


def _written_by_us(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as fh:
            return fh.readline() == FILE_HEADER
    except (OSError, UnicodeDecodeError):
        return False
