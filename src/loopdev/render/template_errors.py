"""Turn Jinja failures into one TemplateError naming the template file, line and cause.

Jinja rewrites tracebacks so template frames carry the template's filename and line;
the innermost such frame is where the failure happened (possibly inside a macro file).
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path

from jinja2 import TemplateNotFound, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from loopdev.errors import TemplateError
from loopdev.render.filters import ChartFailure


def translate(err: Exception, templates_dir: Path, shown_as: Path, fallback: Path) -> TemplateError:
    """A TemplateError for ``err`` raised while rendering ``fallback`` (a template path).

    ``shown_as`` is the directory paths are shown relative to (the loopfile's directory).
    """
    if isinstance(err, TemplateSyntaxError) and err.filename:
        where: tuple[Path, int] | None = (Path(err.filename), err.lineno)
    else:
        where = _template_frame(err, templates_dir)
    path, line = where if where else (fallback, 0)
    location = f"{_display(path, shown_as)}:{line}" if line else _display(path, shown_as)
    source_line = _source_line(path, line)
    message = f"{location}: {_describe(err, source_line)}"
    if source_line is not None:
        message += f"\n  {line} | {source_line}"
    return TemplateError(message, hint=_hint(err))


def _template_frame(err: Exception, templates_dir: Path) -> tuple[Path, int] | None:
    root = str(templates_dir.resolve())
    found: tuple[Path, int] | None = None
    for frame in traceback.extract_tb(err.__traceback__):
        if frame.filename.startswith(root) and frame.lineno:
            found = (Path(frame.filename), frame.lineno)
    return found


def _describe(err: Exception, source_line: str | None) -> str:
    if isinstance(err, TemplateSyntaxError):
        return f"template syntax error: {err.message}"
    if isinstance(err, UndefinedError):
        expr = _undefined_expression(str(err.message), source_line or "")
        return (
            f"undefined value: {expr} ({err.message})"
            if expr
            else f"undefined value: {err.message}"
        )
    if isinstance(err, SecurityError):
        return f"not allowed in a chart template (sandbox): {err}"
    if isinstance(err, TemplateNotFound):
        return f"template not found: {err.name}"
    if isinstance(err, ChartFailure):
        return str(err)
    return f"{type(err).__name__}: {err}"


_NO_ATTR = re.compile(r"has no attribute '([^']+)'")
_EXPR = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[[^\]]*\])*"


def _undefined_expression(message: str, source_line: str) -> str | None:
    """The dotted expression on the line that ends in the missing key (``values.a.b``)."""
    missing = _NO_ATTR.search(message)
    if missing is None:
        return None
    name = re.escape(missing.group(1))
    found = re.search(rf"({_EXPR})\.{name}\b|({_EXPR})\[['\"]{name}['\"]\]", source_line)
    if found is None:
        return None
    return found.group(0)


def _hint(err: Exception) -> str | None:
    if isinstance(err, UndefinedError):
        return (
            "define it in values.yaml (or values-<profile>.yaml / deploy.values), "
            "or use `| default(...)`"
        )
    if isinstance(err, SecurityError):
        return "templates may only read values, chart, release, profiles and images"
    if isinstance(err, TemplateNotFound):
        return "macro files live in the chart's templates/ directory, named _*.j2"
    return None


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _source_line(path: Path, line: int) -> str | None:
    if line <= 0:
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    return lines[line - 1].rstrip() if line <= len(lines) else None
