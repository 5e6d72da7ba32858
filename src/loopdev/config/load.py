"""Load a loopfile: parse with marks, validate, apply profiles, check, build the frozen model.

Every problem of one run is collected and raised together as a ``ConfigError`` whose lines
read ``loopfile.yaml:LINE:COL: key.path: what is wrong, expected what is valid``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopdev.commands.options import GlobalOptions
from loopdev.config import versions
from loopdev.config.assemble import build_model
from loopdev.config.checks import check_effective, check_profiles
from loopdev.config.kubeconfig import current_context
from loopdev.config.locate import find_loopfile
from loopdev.config.model import Loopfile
from loopdev.config.patches import apply_patches
from loopdev.config.problems import Mark, Problems
from loopdev.config.profiles import apply_profile, defined_profiles, select_profiles
from loopdev.config.schema_errors import check_schema
from loopdev.config.source import Marks, parse_yaml
from loopdev.errors import ConfigError, ConfigProblem, UsageError

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class Resolved:
    """A loaded loopfile: the model, and the merged plain data it was built from."""

    model: Loopfile
    effective: dict[str, Any]  # the document after profiles, without the profiles key


def load_loopfile(
    path: Path,
    profiles: Sequence[str] = (),
    *,
    kube_context: str | None = None,
    command: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Loopfile:
    """Load ``path`` with the requested profiles (plus auto-activated ones) into the model."""
    return resolve_loopfile(
        path, profiles, kube_context=kube_context, command=command, env=env
    ).model


def resolve_loopfile(
    path: Path,
    profiles: Sequence[str] = (),
    *,
    kube_context: str | None = None,
    command: str | None = None,
    env: Mapping[str, str] | None = None,
    text: str | None = None,
) -> Resolved:
    """Like ``load_loopfile`` but also returns the merged data; ``text`` overrides the file."""
    path = path.resolve()
    problems = Problems(display_name(path))
    problems.source = _read(path, problems) if text is None else text
    data, marks = _parse(problems)
    check_schema(data, marks, problems)  # profiles included; merged parts are checked below
    check_profiles(data, marks, problems)
    defined = defined_profiles(data)
    env = os.environ if env is None else env
    active = select_profiles(defined, profiles, env, kube_context, command)
    effective, effective_marks = _apply_profiles(data, marks, active, problems)
    check_effective(effective, effective_marks, problems, path.parent)
    problems.raise_if_any()
    return Resolved(build_model(effective, path, tuple(defined), active), effective)


def _parse(problems: Problems) -> tuple[dict[str, Any], Marks]:
    """The document as plain data with marks, upgraded to the current format version."""
    doc = parse_yaml(problems.source, problems)
    if doc is None:
        problems.fail()
    if not isinstance(doc.data, dict):
        found = "the file is empty" if doc.data is None else "the top level is not a mapping"
        msg = f"{found}, expected a mapping with version, name and deploy"
        problems.add_at(Mark(1, 1), (), msg)
        problems.fail()
    _refuse_newer(doc.data, doc.marks, problems)
    return versions.upgrade(doc.data), doc.marks


def _apply_profiles(
    data: dict[str, Any], marks: Marks, active: Sequence[str], problems: Problems
) -> tuple[dict[str, Any], Marks]:
    """The document without ``profiles``, with each active profile merged in order: its
    overlay, then its JSON patches. What patches wrote is schema-checked here, since the
    profile schema cannot see it."""
    defined = defined_profiles(data)
    effective = {k: v for k, v in data.items() if k != "profiles"}
    patched = False
    for name in active:
        if isinstance(defined[name], dict):
            merged, marks = apply_profile({**effective, "profiles": defined}, marks, name)
            effective = {k: v for k, v in merged.items() if k != "profiles"}
            patches = defined[name].get("patches")
            if isinstance(patches, list) and patches:
                effective, marks = apply_patches(effective, marks, name, patches, problems)
                patched = True
    if patched and not problems.items:
        check_schema(effective, marks, problems)
    return effective, marks


def load_from_options(opts: GlobalOptions, command: str | None = None) -> Loopfile:
    """Find and load the loopfile the global options name; every command starts here."""
    return resolve_from_options(opts, command).model


def resolve_from_options(opts: GlobalOptions, command: str | None = None) -> Resolved:
    """``load_from_options`` keeping the merged data (for ``validate --print``)."""
    path = find_loopfile(opts.file)
    context = opts.context or current_context()
    resolved = resolve_loopfile(path, opts.profiles, kube_context=context, command=command)
    if opts.default_repo:
        resolved = with_default_repo(resolved, opts.default_repo)
    if opts.namespace is None:
        return resolved
    if not _DNS_LABEL.match(opts.namespace) or len(opts.namespace) > 63:
        raise UsageError(
            f"--namespace {opts.namespace!r} is not a valid namespace",
            hint="expected a DNS-1123 label: lowercase letters, digits and '-'",
        )
    model = dataclasses.replace(resolved.model, namespace=opts.namespace)
    return Resolved(model, {**resolved.effective, "namespace": opts.namespace})


_REPO = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$")


def with_default_repo(resolved: Resolved, repo: str) -> Resolved:
    """``--default-repo``: push to this registry instead of ``build.registry`` (Skaffold's
    flag; for shared dev clusters whose nodes pull from a registry)."""
    repo = repo.rstrip("/")
    if not _REPO.match(repo):
        raise UsageError(
            f"--default-repo {repo!r} is not a registry",
            hint="expected host[:port][/path], e.g. registry.example.com/team or localhost:5000",
        )
    build = resolved.model.build
    if build.delivery not in ("auto", "registry"):
        raise UsageError(
            f"--default-repo pushes to a registry, but the loopfile sets build.delivery: "
            f"{build.delivery}",
            hint="drop --default-repo (or LOOPDEV_DEFAULT_REPO), or set build.delivery: auto",
        )
    model = dataclasses.replace(resolved.model, build=dataclasses.replace(build, registry=repo))
    effective = {**resolved.effective}
    effective["build"] = {**(effective.get("build") or {}), "registry": repo}
    return Resolved(model, effective)


def display_name(path: Path) -> str:
    """The file as the user knows it: relative to the working directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read(path: Path, problems: Problems) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        problems.add_at(Mark(1, 1), (), f"not UTF-8 text ({err.reason}), expected a UTF-8 file")
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from None
    problems.raise_if_any()
    return ""


def _refuse_newer(data: dict[str, Any], marks: Marks, problems: Problems) -> None:
    version = data.get("version")
    if isinstance(version, str) and versions.is_newer(version):
        mark = marks.value_at(("version",))
        problem = ConfigProblem(
            problems.file,
            mark.line,
            mark.col,
            "version",
            f"this loopfile needs a newer loopdev (format {version}; this one reads up to "
            f"{versions.CURRENT}), expected version {versions.CURRENT!r} or an upgrade",
        )
        raise ConfigError([problem], hint="upgrade loopdev: pip install -U loopdev")
