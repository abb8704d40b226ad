"""Reading the Dockerfile that SARIF results point at: instructions, the base FROM, which file is used."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ci_scan.dockerfile import base_instruction, checkout_root, find_default, instructions, load, parse
from ci_scan.errors import ConfigError

MULTI_STAGE = """\
# syntax=docker/dockerfile:1
ARG BASE=debian:12
FROM --platform=$BUILDPLATFORM golang:1.22 AS build
RUN <<EOT
FROM not-an-instruction
EOT
RUN apt-get update && \\
    # a comment inside the instruction

    apt-get install -y curl

FROM ${BASE} as runtime
COPY --from=build /out /app
from runtime
"""


def test_instructions_span_their_continued_lines() -> None:
    found = instructions(MULTI_STAGE)
    assert [(i.keyword, i.start_line, i.end_line) for i in found] == [
        ("ARG", 2, 2), ("FROM", 3, 3), ("RUN", 4, 4), ("RUN", 7, 10), ("FROM", 12, 12), ("COPY", 13, 13),
        ("FROM", 14, 14),
    ]
    run = found[3]
    assert run.arguments == "apt-get update && apt-get install -y curl"
    assert run.end_column == len("    apt-get install -y curl") + 1


def test_the_base_is_followed_back_through_named_stages() -> None:
    base = base_instruction(instructions(MULTI_STAGE))
    assert base is not None and base.start_line == 12 and base.arguments == "${BASE} as runtime"


def test_the_base_is_the_last_stage_not_the_first() -> None:
    text = "FROM golang:1.22 AS build\nRUN make\nFROM alpine:3.19\nCOPY --from=build /app /app\n"
    base = base_instruction(instructions(text))
    assert base is not None and base.start_line == 3


def test_scratch_has_no_base_and_a_missing_from_is_refused() -> None:
    assert parse("FROM golang AS b\nFROM scratch\nCOPY --from=b /x /x\n", "Dockerfile").base is None
    with pytest.raises(ConfigError, match="no FROM instruction"):
        parse("RUN echo hi\n", "Dockerfile")


def test_the_escape_directive_changes_the_continuation_character() -> None:
    text = "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022 `\n    AS base\nRUN dir c:\\\n"
    found = instructions(text)
    assert [(i.keyword, i.start_line, i.end_line) for i in found] == [("FROM", 2, 3), ("RUN", 4, 4)]
    assert found[0].arguments == "mcr.microsoft.com/windows/servercore:ltsc2022 AS base"


def test_the_default_dockerfile_is_used_for_one_image_only(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.19\n", encoding="utf-8")
    found = find_default(image_count=1, working_directory=tmp_path, environ={})
    assert found is not None and found.uri == "Dockerfile" and found.base is not None
    assert find_default(image_count=2, working_directory=tmp_path, environ={}) is None


def test_a_default_that_is_no_dockerfile_is_left_unused(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("just some notes\n", encoding="utf-8")
    assert find_default(image_count=1, working_directory=tmp_path, environ={}) is None
    assert find_default(image_count=1, working_directory=tmp_path / "absent", environ={}) is None


def test_a_named_dockerfile_must_be_usable(tmp_path: Path) -> None:
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "app file.Dockerfile").write_text("FROM python:3.12-slim\n", encoding="utf-8")
    found = load("docker/app file.Dockerfile", image_count=1, working_directory=tmp_path, environ={})
    assert found.uri == "docker/app%20file.Dockerfile"
    with pytest.raises(ConfigError, match="2 images are scanned"):
        load("docker/app file.Dockerfile", image_count=2, working_directory=tmp_path, environ={})
    with pytest.raises(ConfigError, match="cannot read --dockerfile"):
        load("missing/Dockerfile", image_count=1, working_directory=tmp_path, environ={})
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00FROM")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load("binary", image_count=1, working_directory=tmp_path, environ={})


def test_paths_are_relative_to_the_checkout_root_not_the_working_directory(tmp_path: Path) -> None:
    service = tmp_path / "svc" / "api"
    service.mkdir(parents=True)
    (service / "Dockerfile").write_text("FROM alpine\n", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    assert checkout_root(service, {}) == tmp_path
    assert load("Dockerfile", image_count=1, working_directory=service, environ={}).uri == "svc/api/Dockerfile"
    # In CI, the workspace variable says where the checkout is.
    assert checkout_root(service, {"GITHUB_WORKSPACE": str(tmp_path / "svc")}) == tmp_path / "svc"
    found = find_default(image_count=1, working_directory=service, environ={"CI_PROJECT_DIR": str(tmp_path / "svc")})
    assert found is not None and found.uri == "api/Dockerfile"


def test_a_dockerfile_outside_the_checkout_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "Dockerfile"
    outside.parent.mkdir()
    outside.write_text("FROM alpine\n", encoding="utf-8")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    with pytest.raises(ConfigError, match="outside the checkout"):
        load(str(outside), image_count=1, working_directory=checkout, environ={"GITHUB_WORKSPACE": str(checkout)})


def test_a_symlinked_dockerfile_is_named_by_its_resolved_path(tmp_path: Path) -> None:
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "Dockerfile.prod").write_text("FROM alpine\n", encoding="utf-8")
    (tmp_path / "Dockerfile").symlink_to(tmp_path / "build" / "Dockerfile.prod")
    found = find_default(image_count=1, working_directory=tmp_path, environ={})
    assert found is not None and found.uri == "build/Dockerfile.prod"


def test_a_file_name_that_is_not_utf8_is_percent_encoded(tmp_path: Path) -> None:
    name = os.fsdecode(b"Dockerfile.\xff")
    (tmp_path / name).write_text("FROM alpine\n", encoding="utf-8")
    assert load(name, image_count=1, working_directory=tmp_path, environ={}).uri == "Dockerfile.%FF"


def test_heredocs_of_any_name_tabs_and_form_feeds() -> None:
    text = ("FROM golang AS build\nCOPY <<app.conf /etc/app.conf\nFROM nothing\napp.conf\n"
            "RUN cat <<<'not a heredoc'\nLABEL note=\"a <<b c\"\nRUN echo \"\x0c\" \u2028\nFROM\talpine:3.19\n")
    found = instructions(text)
    assert [(i.keyword, i.start_line) for i in found] == [
        ("FROM", 1), ("COPY", 2), ("RUN", 5), ("LABEL", 6), ("RUN", 7), ("FROM", 8),
    ]
    base = base_instruction(found)
    assert base is not None and base.start_line == 8 and base.arguments == "alpine:3.19"


def test_an_unknown_directive_ends_the_directives() -> None:
    text = "# something=else\n# escape=`\nFROM alpine \\\nRUN x\n"
    assert [(i.keyword, i.start_line, i.end_line) for i in instructions(text)] == [("FROM", 3, 4)]
