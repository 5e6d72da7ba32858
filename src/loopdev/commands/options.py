"""Options every command shares, passed down from the ``loopdev`` group.

The global options are accepted before the command (``loopdev -p dev up``) and after it
(``loopdev up -p dev``), as kubectl and skaffold accept theirs: ``with_global_options``
adds them to each command, and a value given there updates the group's ``GlobalOptions``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from loopdev.commands.complete import complete_profiles

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class GlobalOptions:
    """``-f``, ``-p``, ``--context``, ``--namespace``, ``--default-repo``, ``--debug``."""

    file: Path | None = None
    profiles: tuple[str, ...] = ()
    context: str | None = None
    namespace: str | None = None
    debug: bool = False
    extra: dict[str, object] = field(default_factory=dict)
    default_repo: str | None = None  # --default-repo / LOOPDEV_DEFAULT_REPO


pass_options = click.make_pass_decorator(GlobalOptions, ensure=True)

FILE_HELP = "The loopfile (default: loopfile.yaml in this directory or a parent)."
PROFILE_HELP = "Activate a profile (repeatable; applied in order after auto-activated ones)."
CONTEXT_HELP = "Kube context to use (default: the kubeconfig's current one)."
NAMESPACE_HELP = "Namespace to deploy to (overrides the loopfile)."
DEBUG_HELP = "Show tracebacks and debug logs."
DEFAULT_REPO_HELP = (
    "Push images to this registry (host[:port][/path]) instead of build.registry, "
    "as Skaffold's --default-repo. Env: LOOPDEV_DEFAULT_REPO."
)


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """A global option given after the command: later wins, profiles add up."""
    opts = ctx.ensure_object(GlobalOptions)
    if param.name == "profiles":
        opts.profiles = (*opts.profiles, *value)
    elif param.name == "debug":
        opts.debug = opts.debug or bool(value)
    elif value is not None:
        setattr(opts, str(param.name), value)


def with_global_options(command: click.Command) -> click.Command:
    """``command`` also taking the global options (stored into ``GlobalOptions``); once."""
    if any(param.name == "debug" for param in command.params):
        return command
    shared: dict[str, Any] = {"expose_value": False, "callback": _store}
    command.params += [
        click.Option(
            ["-f", "--file", "file"],
            type=click.Path(dir_okay=False, path_type=Path),
            help=FILE_HELP,
            **shared,
        ),
        click.Option(
            ["-p", "--profile", "profiles"],
            multiple=True,
            help=PROFILE_HELP,
            shell_complete=complete_profiles,
            **shared,
        ),
        click.Option(["--context", "context"], help=CONTEXT_HELP, **shared),
        click.Option(["--namespace", "namespace"], help=NAMESPACE_HELP, **shared),
        click.Option(["--default-repo", "default_repo"], help=DEFAULT_REPO_HELP, **shared),
        click.Option(["--debug", "debug"], is_flag=True, help=DEBUG_HELP, **shared),
    ]
    return command
