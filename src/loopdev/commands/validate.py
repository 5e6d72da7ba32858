"""`loopdev validate`: check the loopfile (schema, references, paths) and optionally print it."""

from __future__ import annotations

import click

from loopdev.commands.options import GlobalOptions, pass_options


@click.command("validate")
@click.option(
    "--print",
    "print_config",
    is_flag=True,
    help="Print the effective configuration after profiles (secret-looking values masked).",
)
@pass_options
def command(opts: GlobalOptions, print_config: bool) -> None:
    """Check the loopfile and report every problem with its line; exit 2 if any."""
    from loopdev.config.effective import effective_yaml  # lazy: keeps `loopdev --help` fast
    from loopdev.config.load import display_name, resolve_from_options

    resolved = resolve_from_options(opts, command="validate")
    model = resolved.model
    file = display_name(model.path)
    if print_config:
        click.echo(effective_yaml(resolved.effective, file, model.active_profiles), nl=False)
        return
    active = ", ".join(model.active_profiles) or "none"
    click.echo(
        f"ok: {file} ({_count(len(model.images), 'image')}, "
        f"{_count(len(model.resources), 'resource')}, "
        f"{_count(len(model.local), 'local command')}, profiles: {active})"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
