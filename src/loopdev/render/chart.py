"""loopdev charts: Helm's layout, rendered with Jinja2 in an immutable sandbox.

``Chart.yaml``, ``values.yaml``, ``values-<profile>.yaml``, ``templates/*.yaml`` (rendered in
path order), ``templates/_*.j2`` (macros). The context (``values``, ``chart``, ``release``,
``profiles``, ``images``) is set as environment globals so macro files imported without
context see it too. Compiled templates are cached by source checksum (``jinja_cache``), so
neither ``loopdev up``'s re-renders nor a new ``loopdev render`` process recompile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from jinja2.sandbox import ImmutableSandboxedEnvironment

from loopdev.errors import ConfigError, LoopdevError, TemplateError
from loopdev.render.confine import confined
from loopdev.render.documents import RenderedTextError, parse_documents
from loopdev.render.filters import FILTERS, FUNCTIONS, ChartFailure
from loopdev.render.jinja_cache import shared_cache
from loopdev.render.template_errors import translate
from loopdev.render.template_lines import source_lines, template_line
from loopdev.render.values import load_values_file

TEMPLATE_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class ChartContext:
    """What templates see besides the values."""

    release_name: str
    namespace: str
    profiles: tuple[str, ...]
    images: Mapping[str, str]


def read_chart_meta(chart_dir: Path) -> dict[str, Any]:
    """``Chart.yaml`` as a mapping with at least ``name``."""
    path = chart_dir / "Chart.yaml"
    if not chart_dir.is_dir():
        raise ConfigError(f"{chart_dir}: chart directory not found")
    meta = load_values_file(confined(path, chart_dir, "Chart.yaml"))
    if not isinstance(meta.get("name"), str) or not meta["name"]:
        raise ConfigError(f"{path}: 'name' is required (and version, appVersion are usual)")
    return meta


def chart_value_layers(chart_dir: Path, profiles: tuple[str, ...]) -> list[dict[str, Any]]:
    """``values.yaml`` then ``values-<profile>.yaml`` for each active profile that has one."""
    names = ["values.yaml", *(f"values-{profile}.yaml" for profile in profiles)]
    layers = []
    for name in names:
        path = chart_dir / name
        if path.is_symlink() or path.exists():
            confined(path, chart_dir, "the chart's values file")
        layers.append(load_values_file(path, required=False))
    return layers


def template_paths(templates_dir: Path) -> list[Path]:
    """Templates to render, in path order (helpers named ``_*`` are only imported)."""
    if not templates_dir.is_dir():
        return []
    found = [
        p
        for p in templates_dir.rglob("*")
        if p.suffix in TEMPLATE_SUFFIXES and not p.name.startswith("_") and p.is_file()
    ]
    return sorted(found, key=lambda p: p.relative_to(templates_dir).as_posix())


def render_chart(
    chart_dir: Path, values: Mapping[str, Any], ctx: ChartContext, shown_as: Path
) -> list[dict[str, Any]]:
    """Every object the chart's templates render, template by template in path order."""
    meta = read_chart_meta(chart_dir)
    templates_dir = chart_dir / "templates"
    env = _environment(templates_dir, meta, values, ctx, shown_as)
    objects: list[dict[str, Any]] = []
    for path in template_paths(templates_dir):
        name = path.relative_to(templates_dir).as_posix()
        try:
            text = env.get_template(name).render()
        except LoopdevError:  # already worded, e.g. a template linked outside the chart
            raise
        except Exception as err:  # noqa: BLE001 - every template failure becomes a TemplateError
            raise translate(err, templates_dir, shown_as, path) from None
        display = _display(path, shown_as)
        try:
            objects.extend(parse_documents(text, display))
        except RenderedTextError as err:
            raise _at_template_line(err, env.get_template(name)) from None
    return objects


def _at_template_line(err: RenderedTextError, template: Template) -> TemplateError:
    """``err`` located at the template line that rendered the offending line."""
    lines = source_lines(template)
    line = template_line(template, err.rendered_line, lines)
    if line is None:
        return err
    message = f"{err.source}:{line}: {err.detail} (rendered line {err.rendered_line})"
    if err.shown is not None:  # None inside a Secret: its lines may hold values
        source = lines[line - 1] if 0 < line <= len(lines) else None
        if source is not None:
            message += f"\n  {line} | {source}"
        if source != err.shown:  # an expression rendered it: show what it became
            message += f"\n  rendered {err.rendered_line} | {err.shown}"
    return TemplateError(message, hint=err.hint)


def _display(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


class ChartLoader(FileSystemLoader):
    """Templates from ``templates_dir``, refusing any whose real path leaves the chart."""

    def __init__(self, templates_dir: Path, shown_as: Path) -> None:
        super().__init__(str(templates_dir.resolve()))
        self._templates, self._shown_as = templates_dir, shown_as

    def get_source(self, environment: Environment, template: str) -> Any:
        source = super().get_source(environment, template)
        shown = _display(self._templates / template, self._shown_as)
        confined(Path(source[1]), self._templates.parent, "the template", shown)
        return source


def _environment(
    templates_dir: Path,
    meta: Mapping[str, Any],
    values: Mapping[str, Any],
    ctx: ChartContext,
    shown_as: Path,
) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=ChartLoader(templates_dir, shown_as),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        bytecode_cache=shared_cache(),
        auto_reload=False,
    )
    env.filters.update(FILTERS)
    env.globals.update(FUNCTIONS)
    env.globals.update(
        values=values,
        chart=dict(meta),
        release={"name": ctx.release_name, "namespace": ctx.namespace},
        profiles=list(ctx.profiles),
        images=dict(ctx.images),
        include=_include_function(env, templates_dir),
    )

    def tpl(text: Any) -> str:
        """Render a value as a template (Helm's ``tpl``): values that mention the release."""
        return env.from_string(str(text)).render()

    env.globals["tpl"] = tpl
    env.filters["tpl"] = tpl
    return env


def _include_function(env: ImmutableSandboxedEnvironment, templates_dir: Path) -> Any:
    """``include("name", *args)``: a macro's output as text, found in the ``_*.j2`` files.

    ``"file.j2:name"`` picks a macro from one file when several define the same name.
    """
    helpers = sorted(
        p.relative_to(templates_dir).as_posix() for p in templates_dir.glob("_*.j2") if p.is_file()
    )
    modules: dict[str, Any] = {}

    def module(file: str) -> Any:
        if file not in modules:
            modules[file] = env.get_template(file).module
        return modules[file]

    def include(name: str, *args: Any, **kwargs: Any) -> str:
        file, _, macro_name = name.rpartition(":")
        candidates = [file] if file else helpers
        found = [f for f in candidates if hasattr(module(f), macro_name)]
        if not found:
            where = ", ".join(helpers) or "any _*.j2 file"
            raise ChartFailure(f"include({name!r}): no macro named {macro_name!r} in {where}")
        if len(found) > 1:
            raise ChartFailure(
                f"include({name!r}): defined in {', '.join(found)}; "
                f"write include('FILE:{macro_name}')"
            )
        return str(getattr(module(found[0]), macro_name)(*args, **kwargs))

    return include
