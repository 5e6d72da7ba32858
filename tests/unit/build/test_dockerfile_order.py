"""FROM parsing (ARG substitution, stages, continuations), rewriting, and build order."""

from __future__ import annotations

import pytest

from loopdev.build.dockerfile import parse_froms, repository, rewrite_froms, substitute
from loopdev.build.order import closure, loopfile_bases, topo_order
from loopdev.errors import BuildError

DF = """\
# syntax=docker/dockerfile:1
ARG BASE=base
ARG TAG
FROM --platform=$BUILDPLATFORM ${BASE}:${TAG:-latest} AS builder
RUN echo hi
FROM \\
  registry.local:5000/tools/lint:1 \\
  AS lint
# a comment
FROM builder
ARG LATE=ignored
FROM $LATE
"""


def test_parse_froms_substitutes_global_args_and_marks_stages() -> None:
    froms = parse_froms(DF, {"TAG": "v2"})
    images = [f.image for f in froms]
    assert images == ["base:v2", "registry.local:5000/tools/lint:1", "builder", ""]
    assert [f.stage for f in froms] == ["builder", "lint", None, None]
    assert [f.is_stage_ref for f in froms] == [False, False, True, False]
    assert froms[0].flags == ("--platform=$BUILDPLATFORM",)
    assert (froms[1].first, froms[1].last) == (5, 7)


def test_build_args_override_arg_defaults() -> None:
    assert parse_froms(DF, {"BASE": "other", "TAG": "1"})[0].image == "other:1"
    assert parse_froms(DF, {})[0].image == "base:latest"


def test_escape_directive_backtick() -> None:
    text = "# escape=`\nFROM `\n  api:dev\n"
    assert parse_froms(text, {})[0].image == "api:dev"


def test_substitute_forms() -> None:
    env = {"A": "x", "E": ""}
    assert substitute("$A/${A}/${E:-d}/${A:+p}/${E:+p}/$NOPE.", env) == "x/x/d/p//."


@pytest.mark.parametrize(
    ("ref", "repo"),
    [
        ("api", "api"),
        ("api:dev", "api"),
        ("localhost:5000/api", "localhost:5000/api"),
        ("localhost:5000/api:1@sha256:abc", "localhost:5000/api"),
        ("example.com/a/b@sha256:abc", "example.com/a/b"),
    ],
)
def test_repository(ref: str, repo: str) -> None:
    assert repository(ref) == repo


def test_rewrite_points_loopfile_bases_at_built_refs() -> None:
    out = rewrite_froms(DF, {"TAG": "v2"}, {"base": "base:loopdev-1234"})
    lines = out.splitlines()
    assert "FROM --platform=$BUILDPLATFORM base:loopdev-1234 AS builder" in lines
    assert "FROM builder" in lines
    assert "  registry.local:5000/tools/lint:1 \\" in lines  # untouched


def test_loopfile_bases_ignores_stages_and_foreign_images() -> None:
    froms = parse_froms(DF, {"TAG": "v2"})
    assert loopfile_bases(froms, ["base", "builder", "api"]) == ("base",)


def test_topo_order_and_closure() -> None:
    deps = {"app": ("base",), "base": (), "tool": ("base",), "web": ("app",)}
    assert topo_order(deps) == ["base", "app", "tool", "web"]
    assert closure(deps, ["web"]) == {"web", "app", "base"}


def test_cycle_is_an_error_naming_the_images() -> None:
    with pytest.raises(BuildError, match="cycle: a -> b"):
        topo_order({"a": ("b",), "b": ("a",), "c": ()})
