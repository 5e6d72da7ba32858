"""Which template line produced a given line of a chart template's rendered text.

Why: when a template renders to invalid YAML, the YAML parser can only name a line of the
rendered text, which the user never sees; the fix belongs at a line of the template. Jinja
renders through a generator that yields one chunk per piece of template (literal text or an
expression); while it is suspended at a ``yield``, its frame's line maps back to the template
line through Jinja's debug info. Re-rendering once on the error path and counting newlines
per chunk finds the chunk holding the rendered line. Inside a literal chunk, lines map one
to one; an expression that renders several lines (``toYaml | nindent``) maps to its own line.
"""

from __future__ import annotations

from types import GeneratorType

from jinja2 import Template


def template_line(template: Template, rendered_line: int, lines: list[str]) -> int | None:
    """The 1-based template line behind 1-based ``rendered_line`` (``lines``: the template's
    source, from ``source_lines``), or None if not found."""
    rendering = template.root_render_func(template.new_context())
    if not isinstance(rendering, GeneratorType):  # Jinja's compiled templates are generators
        return None
    generator: GeneratorType[str, None, None] = rendering
    seen = 1  # the rendered line the next chunk starts on
    try:
        for chunk in generator:
            frame = generator.gi_frame
            newlines = chunk.count("\n")
            if seen + newlines >= rendered_line and chunk and frame is not None:
                start = template.get_corresponding_lineno(frame.f_lineno)
                return _within_chunk(chunk, rendered_line - seen, start, lines)
            seen += newlines
    except Exception:  # noqa: BLE001 - a re-render that fails only loses the better line
        return None
    finally:
        generator.close()
    return None


def _within_chunk(chunk: str, offset: int, start: int, lines: list[str]) -> int:
    """``start + offset`` when the chunk is the template's literal text there, else ``start``."""
    if offset == 0:
        return start
    pieces = chunk.split("\n")
    wanted, partial = pieces[offset], offset == len(pieces) - 1  # partial: line goes on after
    index = start - 1 + offset
    if 0 <= index < len(lines):
        line = lines[index]
        if line == wanted or (partial and line.startswith(wanted)):
            return start + offset
    return start


def source_lines(template: Template) -> list[str]:
    """The template file's lines (none for a template built from a string)."""
    if template.filename is None:
        return []
    try:
        with open(template.filename, encoding="utf-8") as fh:
            return fh.read().splitlines()
    except OSError:
        return []
