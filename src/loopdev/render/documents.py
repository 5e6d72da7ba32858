"""Split rendered text into Kubernetes objects, naming the source and line of any problem.

Every source (chart templates, plain files, kustomize and helm output) goes through
``parse_documents`` so the checks and the error wording are the same for all of them.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import Any

import yaml

from loopdev.errors import TemplateError
from loopdev.render.yamlio import AliasBombError, ManifestLoader, check_aliases, construct

# id(object) -> where it was rendered, while pipeline.render_objects runs (for its errors).
ORIGINS: ContextVar[dict[int, str] | None] = ContextVar("loopdev_render_origins", default=None)

_SECRET_KIND = re.compile(r"^kind:\s*['\"]?Secret['\"]?\s*$", re.MULTILINE)


class RenderedTextError(TemplateError):
    """Rendered text that is not valid YAML or not an object, at a line of the rendered text.

    Chart rendering maps ``rendered_line`` back to the template line that produced it.
    """

    def __init__(
        self,
        source: str,
        rendered_line: int,
        detail: str,
        shown: str | None = None,
        hint: str | None = None,
        *,
        plain_file: bool = False,
    ) -> None:
        where = f":{rendered_line}" if plain_file else f": rendered line {rendered_line}"
        message = f"{source}{where}: {detail}"
        if shown is not None:
            message += f"\n  {rendered_line} | {shown}"
        super().__init__(message, hint)
        self.source, self.rendered_line, self.detail, self.shown = (
            source,
            rendered_line,
            detail,
            shown,
        )


def parse_documents(text: str, source: str, *, plain_file: bool = False) -> list[dict[str, Any]]:
    """Every non-empty document of ``text`` as a checked object; ``List`` kinds are flattened.

    ``source`` names where the text came from (a template path, a file, "kustomize DIR")
    and appears in every error, as ``source:LINE`` when ``plain_file`` (the text is the file,
    so its lines are the user's lines), else with the line of the rendered text.
    """
    loader = ManifestLoader(text)
    out: list[dict[str, Any]] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1
            check_aliases(text, node)
            doc = construct(loader, node)
            checked = _checked(doc, source, line, plain_file)
            origins = ORIGINS.get()
            if origins is not None:
                origins.update((id(obj), f"{source}:{line}") for obj in checked)
            out.extend(checked)
    except yaml.YAMLError as err:
        raise _yaml_error(err, text, source, plain_file) from None
    except RecursionError:
        raise TemplateError(
            f"{source}: rendered YAML nests too deeply (a recursive alias?)"
        ) from None
    finally:
        loader.dispose()
    return out


def _checked(doc: Any, source: str, line: int, plain_file: bool) -> list[dict[str, Any]]:
    """The object (or a List's items), or a TemplateError saying what is missing."""
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise RenderedTextError(
            source,
            line,
            f"the document is a {type(doc).__name__}, not a Kubernetes object",
            hint="each YAML document must be a mapping with apiVersion, kind and metadata.name",
            plain_file=plain_file,
        )
    kind = doc.get("kind")
    if _is_list(doc):
        items: list[dict[str, Any]] = []
        for item in doc["items"]:
            items.extend(_checked(item, source, line, plain_file))
        return items
    missing = [key for key in ("apiVersion", "kind") if not _nonempty_str(doc.get(key))]
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not _nonempty_str(meta.get("name")):
        missing.append("metadata.name")
    if missing:
        label = f" (kind {kind})" if _nonempty_str(kind) else ""
        raise RenderedTextError(
            source,
            line,
            f"the document starting here{label} has no {', '.join(missing)}",
            hint="every object needs apiVersion, kind and metadata.name",
            plain_file=plain_file,
        )
    return [doc]


def _is_list(doc: dict[str, Any]) -> bool:
    """``kind: List`` (or a typed ``ConfigMapList`` whose items are all objects); a custom
    resource that merely ends in "List" and has an ``items`` field is left alone."""
    kind, items = doc.get("kind"), doc.get("items")
    if not isinstance(kind, str) or not kind.endswith("List") or not isinstance(items, list):
        return False
    return kind == "List" or all(isinstance(i, dict) and "kind" in i for i in items)


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _yaml_error(err: yaml.YAMLError, text: str, source: str, plain_file: bool) -> TemplateError:
    """A TemplateError naming the rendered line; the line itself is shown unless it may hold
    a Secret's data."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    if mark is None:
        return TemplateError(f"{source}: rendered text is not valid YAML: {problem}")
    lines = text.splitlines()
    shown = None
    if 0 <= mark.line < len(lines) and not _in_secret(lines, mark.line):
        shown = lines[mark.line]
    if isinstance(err, AliasBombError):
        return RenderedTextError(source, mark.line + 1, problem, shown, plain_file=plain_file)
    return RenderedTextError(
        source,
        mark.line + 1,
        f"invalid YAML: {problem}",
        shown,
        hint="check indentation (nindent/indent) and quoting of values",
        plain_file=plain_file,
    )


def _in_secret(lines: list[str], index: int) -> bool:
    """Whether the document holding line ``index`` declares ``kind: Secret``."""
    start = index
    while start > 0 and not lines[start].startswith("---"):
        start -= 1
    end = index
    while end + 1 < len(lines) and not lines[end + 1].startswith("---"):
        end += 1
    return bool(_SECRET_KIND.search("\n".join(lines[start : end + 1])))
