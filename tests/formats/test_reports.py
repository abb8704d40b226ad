"""Writing reports: atomic replacement, parents, permissions, stdout, and errors as ConfigError."""

from __future__ import annotations

import io
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_scan.decision import Decision
from ci_scan.errors import ConfigError
from ci_scan.formats import REPORTS, report
from ci_scan.formats.base import Format
from ci_scan.models import RunResult
from ci_scan.reports import write_report, write_reports
from tests.formats.helpers import decide


class ExplodingFormat:
    name = "exploding"
    description = "a renderer with a bug"
    default_filename = "boom.txt"

    def render(self, decision: Decision) -> str:
        raise RuntimeError("renderer bug")


def renderer(name: str) -> Format:
    return report(name).load()


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_writes_utf8_and_returns_the_path(tmp_path: Path, umask_022: None) -> None:
    path = write_report(tmp_path / "report.json", "ünï 🚀\n")
    assert path == tmp_path / "report.json"
    assert path.read_bytes() == "ünï 🚀\n".encode()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_mode_respects_the_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ci_scan.reports

    current = os.umask(0o027)
    try:
        assert ci_scan.reports._read_umask() == 0o027
    finally:
        os.umask(current)
    monkeypatch.setattr(ci_scan.reports, "_UMASK", 0o077)  # read once at import, as a process's umask is shared
    path = write_report(str(tmp_path / "private.sarif"), "{}\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_creates_missing_parents(tmp_path: Path) -> None:
    path = write_report(tmp_path / "a" / "b" / "ci-scan.junit.xml", "<x/>")
    assert path.read_text() == "<x/>"


def test_replaces_an_existing_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "ci-scan.sarif"
    target.write_text("old report")
    inode = target.stat().st_ino
    write_report(target, "new report")
    assert target.read_text() == "new report"
    assert target.stat().st_ino != inode, "replaced by rename, not rewritten in place"
    assert os.listdir(tmp_path) == ["ci-scan.sarif"]


def test_a_failed_rename_keeps_the_old_file_and_removes_the_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "ci-scan.sarif"
    target.write_text("old report")

    def refuse(source: str, destination: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ConfigError) as caught:
        write_report(target, "new report")
    assert str(caught.value) == f"cannot write report {target}: Permission denied"
    assert target.read_text() == "old report"
    assert os.listdir(tmp_path) == ["ci-scan.sarif"]


@pytest.mark.parametrize(
    ("relative", "reason"),
    [("a-file/report.sarif", "File exists"), ("a-directory", "Is a directory")],
)
def test_unwritable_paths_raise_a_one_line_config_error(tmp_path: Path, relative: str, reason: str) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    (tmp_path / "a-directory").mkdir()
    with pytest.raises(ConfigError) as caught:
        write_report(tmp_path / relative, "text")
    assert str(caught.value) == f"cannot write report {tmp_path / relative}: {reason}"
    assert caught.value.exit_code == 2
    assert sorted(os.listdir(tmp_path)) == ["a-directory", "a-file"]
    assert os.listdir(tmp_path / "a-directory") == []


def test_dash_writes_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert write_report("-", "ünï report\n") == Path("-")
    assert capsys.readouterr().out == "ünï report\n"


def test_dash_works_with_a_text_only_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    write_report("-", "report\n")
    assert stream.getvalue() == "report\n"


@pytest.mark.parametrize("fixture", ["sample_run", "multi_run"])
def test_write_reports_writes_every_format(tmp_path: Path, fixture: str, request: pytest.FixtureRequest) -> None:
    run: RunResult = request.getfixturevalue(fixture)
    requests: list[tuple[Format, Path]] = [(spec.load(), tmp_path / spec.default_filename) for spec in REPORTS]
    decision = decide(run)
    written = write_reports(requests, decision)
    assert written == [path for _, path in requests]
    for fmt, path in requests:
        assert path.read_text(encoding="utf-8") == fmt.render(decision)


def test_a_renderer_crash_writes_nothing(tmp_path: Path, sample_run: RunResult) -> None:
    junit = tmp_path / "ci-scan.junit.xml"
    junit.write_text("previous report")
    requests = [(renderer("junit"), junit), (ExplodingFormat(), tmp_path / "boom.txt")]
    with pytest.raises(RuntimeError, match="renderer bug"):
        write_reports(requests, decide(sample_run))
    assert junit.read_text() == "previous report"
    assert sorted(os.listdir(tmp_path)) == ["ci-scan.junit.xml"]


def test_one_unwritable_report_does_not_stop_the_others(tmp_path: Path, sample_run: RunResult) -> None:
    (tmp_path / "blocker").write_text("a file where a directory should be")
    bad, good = tmp_path / "blocker" / "ci-scan.sarif", tmp_path / "ci-scan.json"
    requests = [(renderer("sarif"), bad), (renderer("json"), good)]
    with pytest.raises(ConfigError) as caught:
        write_reports(requests, decide(sample_run))
    assert str(caught.value) == f"cannot write report {bad}: File exists"
    assert good.exists()


def test_two_reports_to_one_path_are_refused(tmp_path: Path, sample_run: RunResult) -> None:
    requests: list[tuple[Format, Path | str]] = [
        (renderer("sarif"), tmp_path / "out"),
        (renderer("json"), str(tmp_path / "x" / ".." / "out")),
    ]
    with pytest.raises(ConfigError, match="sarif and json reports would both be written"):
        write_reports(requests, decide(sample_run))
    assert os.listdir(tmp_path) == []
