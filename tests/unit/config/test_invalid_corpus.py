"""Every invalid loopfile in invalid/ fails with exit 2 and names the exact line, column and key.

Each case's first line says what must be reported and what kind of error it is:
``# <kind>: LINE:COL KEY.PATH | message fragment [&& ...]`` where kind is ``schema`` (the
JSON Schema alone rejects it), ``semantic`` (schema-valid; only the loader's checks catch it)
or ``yaml`` (not parseable, or duplicate keys, which JSON Schema never sees).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from loopdev.cli import main_group
from loopdev.config.schema import is_schema_valid

INVALID = Path(__file__).parent / "invalid"
CASES = sorted(INVALID.glob("*.yaml"))
_HEADER = re.compile(r"^# (schema|semantic|yaml): (.+)$")


@dataclass(frozen=True)
class Expected:
    line: int
    col: int
    path: str
    fragment: str


def parse_header(case: Path) -> tuple[str, list[Expected]]:
    match = _HEADER.match(case.read_text().splitlines()[0])
    assert match, f"{case.name}: first line must be '# <kind>: LINE:COL PATH | fragment'"
    expected = []
    for item in match.group(2).split(" && "):
        where, fragment = item.split(" | ", 1)
        loc, path = where.split(" ", 1)
        line, col = loc.split(":")
        expected.append(Expected(int(line), int(col), "" if path == "-" else path, fragment))
    return match.group(1), expected


def test_corpus_is_large_enough() -> None:
    kinds = [parse_header(c)[0] for c in CASES]
    assert len(CASES) >= 30
    assert {"schema", "semantic", "yaml"} <= set(kinds)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_cli_reports_exact_location(case: Path) -> None:
    _, expected = parse_header(case)
    result = CliRunner().invoke(main_group, ["-f", str(case), "validate"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    reported = [
        line.removeprefix("loopdev: ")
        for line in result.output.splitlines()
        if re.match(r"^(loopdev: )?\S+\.yaml:\d+:\d+: ", line)
    ]
    assert len(reported) == len(expected), result.output
    for exp in expected:
        prefix = f"{case.name}:{exp.line}:{exp.col}: " + (f"{exp.path}: " if exp.path else "")
        hits = [r for r in reported if re.match(r"^(\S*/)?" + re.escape(prefix), r)]
        assert hits, f"expected {prefix!r} in:\n{result.output}"
        assert exp.fragment in hits[0], hits[0]


# YAML syntax and duplicate-key cases never reach a document JSON Schema could judge.
DOCUMENT_CASES = [c for c in CASES if parse_header(c)[0] != "yaml"]


@pytest.mark.parametrize("case", DOCUMENT_CASES, ids=lambda p: p.stem)
def test_schema_agrees_with_loader(case: Path) -> None:
    """Schema errors are caught by the schema too; semantic ones pass it (it cannot see them)."""
    kind, _ = parse_header(case)
    data = yaml.safe_load(case.read_text())
    assert is_schema_valid(data) is (kind == "semantic")


def test_inlined_validator_gives_the_verdicts_of_the_schema_file() -> None:
    """The fast (``$ref``-inlined) validator judges exactly like the schema as written."""
    from jsonschema import Draft202012Validator

    from loopdev.config.schema import schema

    plain = Draft202012Validator(schema())
    docs = list(DOCUMENT_CASES)
    docs += sorted((INVALID.parent / "valid").glob("*.yaml"))
    for case in docs:
        data = yaml.safe_load(case.read_text())
        assert plain.is_valid(data) is is_schema_valid(data), case.name
