"""What a loopfile edit during ``up`` changes: a pure diff of the old and new model.

The session reloads the loopfile when it changes (Tilt reloads its Tiltfile), diffs the two
models here and re-plans only what changed: images are (re)built, the deploy re-renders,
port-forwards and local commands are set up again, live rules are re-read. An edit that
cannot take effect while a session runs (the project name or namespace: every watch and
label is keyed by them) is refused like an invalid one: the last good config keeps running.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loopdev.config.model import Loopfile
from loopdev.config.namespaces import used_namespaces

APPLY_CONFIG = "apply_config"  # ctx.shared: the session's ``apply_config(new, diff)``

# Reconcilers the session runs afresh when their part of the config changed (they read
# their part once, at start); every other one (deploy, live update, local commands)
# follows ``ConfigReloaded`` itself.
RESTARTED_BY = {
    "build": "images",
    "portforward": "forwards",
}


@dataclass(frozen=True)
class ConfigDiff:
    images_added: tuple[str, ...] = ()
    images_removed: tuple[str, ...] = ()
    images_changed: tuple[str, ...] = ()  # build inputs (context, Dockerfile, args...)
    live_changed: tuple[str, ...] = ()  # only the live-update rules of an image
    deploy: bool = False  # anything the render reads
    resources_changed: tuple[str, ...] = ()  # resources entries added, removed or edited
    forwards_changed: tuple[str, ...] = ()  # resources whose port-forwards differ
    local_added: tuple[str, ...] = ()
    local_removed: tuple[str, ...] = ()
    local_changed: tuple[str, ...] = ()
    build_settings: bool = False  # build.delivery / registry / parallel
    refused: str = ""  # why the new config cannot be used while the session runs

    @property
    def images(self) -> bool:
        return bool(
            self.images_added or self.images_removed or self.images_changed or self.build_settings
        )

    @property
    def forwards(self) -> bool:
        return bool(self.forwards_changed)

    @property
    def local(self) -> bool:
        return bool(self.local_added or self.local_removed or self.local_changed)

    @property
    def empty(self) -> bool:
        return not (
            self.images
            or self.live_changed
            or self.deploy
            or self.resources_changed
            or self.local
            or self.refused
        )

    def restarts(self) -> set[str]:
        """The reconcilers (by name) to run afresh with the new config."""
        return {name for name, part in RESTARTED_BY.items() if getattr(self, part)}

    def summary(self) -> str:
        """One line for the log: what the reload re-plans."""
        parts: list[str] = []

        def names(label: str, items: tuple[str, ...], sign: str = "") -> None:
            if items:
                parts.append(f"{label} {', '.join(sign + i for i in items)}")

        names("images", self.images_added, "+")
        names("images", self.images_removed, "-")
        names("rebuild", self.images_changed)
        names("live rules", self.live_changed)
        if self.build_settings:
            parts.append("build settings")
        if self.deploy:
            parts.append("deploy")
        names("port-forwards", self.forwards_changed)
        names(
            "resources", tuple(r for r in self.resources_changed if r not in self.forwards_changed)
        )
        names("local", self.local_added, "+")
        names("local", self.local_removed, "-")
        names("local", self.local_changed)
        return "; ".join(parts) or "nothing"


def _keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    added = tuple(sorted(set(new) - set(old)))
    removed = tuple(sorted(set(old) - set(new)))
    changed = tuple(sorted(k for k in set(old) & set(new) if old[k] != new[k]))
    return added, removed, changed


def diff_configs(old: Loopfile, new: Loopfile) -> ConfigDiff:
    """What changed from ``old`` to ``new`` (pure; models compare by value)."""
    if (old.name, old.namespace) != (new.name, new.namespace):
        what = "name" if old.name != new.name else "namespace"
        return ConfigDiff(
            refused=f"{what} cannot change while `loopdev up` runs: stop it and start it again"
        )
    if used_namespaces(old) != used_namespaces(new):  # every watch follows the old set
        return ConfigDiff(
            refused="a Helm release's namespace cannot change while `loopdev up` runs: "
            "stop it and start it again"
        )
    img_added, img_removed, img_both = _keys(old.images, new.images)
    rebuild = tuple(
        n for n in img_both if _without_live(old.images[n]) != _without_live(new.images[n])
    )
    live = tuple(n for n in img_both if n not in rebuild)
    res_added, res_removed, res_changed = _keys(old.resources, new.resources)
    forwards = tuple(
        sorted(
            n
            for n in {*res_added, *res_removed, *res_changed}
            if _forwards(old, n) != _forwards(new, n)
        )
    )
    loc_added, loc_removed, loc_changed = _keys(old.local, new.local)
    return ConfigDiff(
        images_added=img_added,
        images_removed=img_removed,
        images_changed=rebuild,
        live_changed=live,
        deploy=old.deploy != new.deploy or old.active_profiles != new.active_profiles,
        resources_changed=tuple(sorted({*res_added, *res_removed, *res_changed})),
        forwards_changed=forwards,
        local_added=loc_added,
        local_removed=loc_removed,
        local_changed=loc_changed,
        build_settings=old.build != new.build,
    )


def _without_live(image: Any) -> tuple[Any, ...]:
    return (
        image.name,
        image.context,
        image.dockerfile,
        image.target,
        image.build_args,
        image.ignore,
    )


def _forwards(config: Loopfile, name: str) -> tuple[Any, ...]:
    res = config.resources.get(name)
    return res.port_forwards if res is not None else ()
