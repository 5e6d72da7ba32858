"""Shell completion of profile, resource and image names, read from the loopfile cheaply.

Completion runs on every Tab press, so this reads only the YAML (no schema, no profiles,
no model) and never fails: a missing or broken loopfile completes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml
from click.shell_completion import CompletionItem

from loopdev.config.locate import find_loopfile

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _loopfile(ctx: click.Context) -> dict[str, Any]:
    """The loopfile the command line names so far (``-f`` before or after the command)."""
    explicit = None
    for here in (ctx, ctx.parent):
        if here is not None and isinstance(here.params.get("file"), Path):
            explicit = here.params["file"]
    from loopdev.commands.options import GlobalOptions  # it imports this module

    opts = ctx.find_object(GlobalOptions)
    if opts is not None and opts.file is not None:
        explicit = opts.file
    try:
        from loopdev.config.aliases import check_expansion, may_alias

        text = find_loopfile(explicit).read_text(encoding="utf-8")
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None or (may_alias(text) and check_expansion(node) is not None):
                return {}
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except Exception:  # noqa: BLE001 - completion must never print a traceback into the shell
        return {}
    return data if isinstance(data, dict) else {}


def _names(ctx: click.Context, *sections: str) -> list[str]:
    data = _loopfile(ctx)
    names: list[str] = []
    for section in sections:
        value = data.get(section)
        if isinstance(value, dict):
            names += [str(k) for k in value if str(k) not in names]
    return names


def _items(names: list[str], incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def complete_profiles(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The loopfile's profile names."""
    return _items(_names(ctx, "profiles"), incomplete)


def complete_resources(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Names ``loopdev trigger`` takes: resources, then local commands and images."""
    return _items(_names(ctx, "resources", "local", "images"), incomplete)


def complete_images(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The loopfile's image names (``loopdev build IMAGE...``)."""
    return _items(_names(ctx, "images"), incomplete)
