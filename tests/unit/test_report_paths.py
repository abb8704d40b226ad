from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from ci_scan.errors import ConfigError, ExitCode
from ci_scan.report_paths import check_report_paths, report_key

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Relative paths in these tests are relative to a fresh directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def error_for(requests: Sequence[tuple[str, str]]) -> str:
    """The message check_report_paths fails with; always a usage error on one line."""
    with pytest.raises(ConfigError) as info:
        check_report_paths(requests)
    message = str(info.value)
    assert info.value.exit_code == ExitCode.USAGE
    assert "\n" not in message and "\r" not in message
    return message


def deny_access(monkeypatch: pytest.MonkeyPatch, target: Path, denied: int) -> None:
    """Make os.access say no to any of the `denied` mode bits on `target`, as permissions would."""
    real_access: Callable[..., bool] = os.access
    target_path = os.path.realpath(target)

    def fake(path: str | os.PathLike[str], mode: int, *args: object, **kwargs: object) -> bool:
        if os.path.realpath(path) == target_path and mode & denied:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", fake)


@pytest.fixture
def locked_dir(tmp_path: Path) -> Iterator[Path]:
    if IS_ROOT:
        pytest.skip("running as root, which writes into read-only directories regardless of their mode")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        yield locked
    finally:
        locked.chmod(0o700)


# --- what is fine -----------------------------------------------------------------------------------


def test_distinct_files_and_one_stdout_are_fine(tmp_path: Path) -> None:
    (tmp_path / "existing.json").write_text("{}")
    check_report_paths([("junit", "r.xml"), ("sarif", "-"), ("json", "existing.json")])


def test_missing_nested_directories_are_fine(tmp_path: Path) -> None:
    check_report_paths([
        ("junit", "out/deeper/still/r.xml"),
        ("sarif", str(tmp_path / "abs" / "new" / "r.sarif")),
        ("json", "ghost/../r.json"),
    ])


def test_no_reports_is_fine() -> None:
    check_report_paths([])


def test_a_dangling_symlink_as_the_report_is_fine(tmp_path: Path) -> None:
    (tmp_path / "link.xml").symlink_to(tmp_path / "missing" / "target.xml")
    check_report_paths([("junit", "link.xml")])


def test_spellings_differing_only_in_case_are_not_compared() -> None:
    check_report_paths([("junit", "R.xml"), ("sarif", "r.xml")])


# --- standard output --------------------------------------------------------------------------------


def test_two_reports_to_stdout() -> None:
    message = error_for([("junit", "-"), ("json", "r.json"), ("sarif", "-")])
    assert message.startswith("--sarif -: ")
    assert "--junit already writes to standard output" in message
    assert "give --sarif a file path" in message


# --- the same file twice ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("r.xml", "r.xml"),
        ("r.xml", "./r.xml"),
        ("r.xml", "./a/../r.xml"),
        ("out/r.xml", "out//r.xml"),
        ("new/r.xml", "new/./x/y/../../r.xml"),
        ("r.xml", "{tmp}/r.xml"),
    ],
)
def test_same_file_however_spelled(tmp_path: Path, first: str, second: str) -> None:
    second = second.format(tmp=tmp_path)
    message = error_for([("junit", first), ("sarif", second)])
    assert message.startswith(f"--sarif {second}: ")
    assert f"same file as --junit {first}" in message
    assert "give each report its own path" in message


def test_same_file_through_a_symlinked_directory(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    message = error_for([("junit", "real/r.xml"), ("json", "alias/r.xml")])
    assert message.startswith("--json alias/r.xml: is the same file as --junit real/r.xml")


@pytest.mark.parametrize("target_exists", [True, False])
def test_symlink_pointing_at_another_report(tmp_path: Path, target_exists: bool) -> None:
    if target_exists:
        (tmp_path / "r.xml").write_text("old")
    (tmp_path / "link.xml").symlink_to(tmp_path / "r.xml")
    message = error_for([("junit", "r.xml"), ("sarif", "link.xml")])
    assert message.startswith("--sarif link.xml: is the same file as --junit r.xml")


def test_report_key() -> None:
    assert report_key("-") == "-"
    assert report_key("r.xml") == report_key("./a/../r.xml") == report_key(os.path.abspath("r.xml"))
    assert os.path.isabs(report_key("r.xml"))
    assert report_key("r.xml") != report_key("s.xml")


def test_report_key_follows_symlinks(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    assert report_key("alias/r.xml") == report_key("real/r.xml")


# --- paths that name a directory --------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["out", "./out", "link-to-out", "."])
def test_existing_directory(tmp_path: Path, spelling: str) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "link-to-out").symlink_to(tmp_path / "out", target_is_directory=True)
    message = error_for([("sarif", spelling)])
    assert message.startswith(f"--sarif {spelling}: is a directory")
    assert "give a file path" in message


@pytest.mark.parametrize("path", ["missing/", "a/b/", "missing//"])
def test_ends_with_a_separator(path: str) -> None:
    message = error_for([("junit", path)])
    assert message.startswith(f"--junit {path}: ends with a path separator, so it names a directory")
    assert "add a file name" in message


@pytest.mark.parametrize(("path", "last"), [("missing/.", "."), ("missing/..", ".."), ("a/b/..", "..")])
def test_ends_with_a_dot_component(path: str, last: str) -> None:
    message = error_for([("junit", path)])
    assert message.startswith(f"--junit {path}: ends with {last}, so it names a directory; add a file name")


def test_existing_directory_with_a_separator(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    assert error_for([("junit", "out/")]).startswith("--junit out/: is a directory")


# --- a file where a directory should be -------------------------------------------------------------


@pytest.mark.parametrize("path", ["report.json/x.xml", "report.json/a/b/x.xml", "report.json/../x.xml"])
def test_ancestor_is_a_file(tmp_path: Path, path: str) -> None:
    (tmp_path / "report.json").write_text("{}")
    message = error_for([("junit", path)])
    assert message.startswith(f"--junit {path}: report.json is a file, so it cannot hold the report")
    assert "choose another path or remove report.json" in message


def test_ancestor_is_a_broken_symlink(tmp_path: Path) -> None:
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere", target_is_directory=True)
    message = error_for([("json", "gone/r.json")])
    assert message.startswith("--json gone/r.json: gone is a broken symbolic link")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_existing_socket_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.chdir(tmp_path)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("sock")
        message = error_for([("junit", "sock")])
    assert message.startswith("--junit sock: is not a file, a device or a pipe")
    assert "- for standard output" in message


# --- permissions ------------------------------------------------------------------------------------


def test_unwritable_directory(locked_dir: Path) -> None:
    path = str(locked_dir / "r.xml")
    message = error_for([("junit", path)])
    assert message == (
        f"--junit {path}: the directory {locked_dir} is not writable; "
        "choose a writable directory or fix its permissions"
    )


def test_unwritable_ancestor_of_missing_directories(locked_dir: Path) -> None:
    message = error_for([("sarif", str(locked_dir / "new" / "r.sarif"))])
    assert f"the directory {locked_dir} is not writable" in message


@pytest.mark.parametrize("denied", [os.W_OK, os.X_OK])
def test_unwritable_directory_by_access(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, denied: int) -> None:
    (tmp_path / "locked").mkdir()
    deny_access(monkeypatch, tmp_path / "locked", denied)
    message = error_for([("junit", "locked/new/r.xml")])
    assert message.startswith("--junit locked/new/r.xml: the directory locked is not writable")
    assert "choose a writable directory or fix its permissions" in message


def test_current_directory_is_named_in_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deny_access(monkeypatch, tmp_path, os.W_OK)
    message = error_for([("json", "r.json")])
    assert f"the directory {os.path.abspath('.')} is not writable" in message


def test_existing_file_in_unwritable_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer renames a temporary file over the report, so the directory must be writable too."""
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "r.xml").write_text("old")
    deny_access(monkeypatch, tmp_path / "locked", os.W_OK)
    assert "the directory locked is not writable" in error_for([("junit", "locked/r.xml")])


def test_unwritable_existing_file_by_access(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "r.json").write_text("{}")
    deny_access(monkeypatch, tmp_path / "r.json", os.W_OK)
    message = error_for([("json", "r.json")])
    assert message.startswith("--json r.json: the file exists and is not writable")
    assert "fix its permissions or choose another path" in message


def test_unwritable_existing_file(tmp_path: Path) -> None:
    if IS_ROOT:
        pytest.skip("running as root, which writes read-only files regardless of their mode")
    (tmp_path / "r.json").write_text("{}")
    (tmp_path / "r.json").chmod(0o400)
    assert "--json r.json: the file exists and is not writable" in error_for([("json", "r.json")])


# --- odd strings ------------------------------------------------------------------------------------


def test_empty_path() -> None:
    message = error_for([("junit", "r.xml"), ("sarif", "")])
    assert message == "--sarif was given an empty path; give a file path, or - for standard output"


def test_nul_in_path() -> None:
    message = error_for([("json", "r\0.json")])
    assert message.startswith("--json r\\x00.json: contains a NUL character")


def test_control_characters_are_escaped(tmp_path: Path) -> None:
    (tmp_path / "a\nb").mkdir()
    message = error_for([("junit", "a\nb")])
    assert message.startswith("--junit a\\nb: is a directory")


def test_control_characters_are_escaped_in_collisions() -> None:
    message = error_for([("junit", "x\r\t\x1b\u2028\u202e.xml"), ("sarif", "./x\r\t\x1b\u2028\u202e.xml")])
    assert message.startswith("--sarif ./x\\r\\t\\x1b\\u2028\\u202e.xml: is the same file as --junit x\\r\\t")


def test_non_ascii_is_shown_as_is(tmp_path: Path) -> None:
    (tmp_path / "résumé").mkdir()
    assert error_for([("junit", "résumé")]).startswith("--junit résumé: is a directory")


@pytest.mark.skipif(os.name != "posix", reason="undecodable file names are a POSIX thing")
def test_undecodable_bytes_are_shown_as_bytes() -> None:
    name = os.fsdecode(b"r\xff.xml")
    message = error_for([("junit", name), ("sarif", name)])
    assert message.startswith("--sarif r\\xff.xml: is the same file as --junit r\\xff.xml")
    message.encode("utf-8")  # printable to a strict UTF-8 stream


def test_a_device_a_fifo_or_a_symlink_is_never_swapped_for_a_regular_file(tmp_path: Path) -> None:
    import os
    import threading

    from ci_scan.reports import write_report

    write_report("/dev/null", "ignored\n")
    assert Path("/dev/null").is_char_device(), "still the device"
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_report(fifo, '{"a": 1}\n')
    reader.join(timeout=10)
    assert got == [b'{"a": 1}\n'] and fifo.is_fifo()
    real = tmp_path / "reports" / "r.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(real)
    assert write_report(link, "new\n") == link
    assert link.is_symlink() and real.read_text() == "new\n"


def test_a_fifo_nobody_reads_is_an_error_after_a_short_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import time

    import ci_scan.reports
    from ci_scan.reports import write_report

    monkeypatch.setattr(ci_scan.reports, "FIFO_WAIT", 0.3)
    fifo = tmp_path / "nobody.fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(ConfigError, match="nothing reads from it"):
        write_report(fifo, "x\n")
    assert time.monotonic() - started < 3


def test_devices_and_fifos_pass_the_early_check(tmp_path: Path) -> None:
    import os

    from ci_scan.report_paths import check_report_paths

    fifo = tmp_path / "r.fifo"
    os.mkfifo(fifo)
    check_report_paths([("json", "/dev/null"), ("sarif", str(fifo))])


class _Rendered:
    """A report format that renders `text`, or raises when `text` is None."""

    def __init__(self, name: str, text: str | None) -> None:
        self.name, self.description, self.default_filename, self.text = name, name, name, text

    def render(self, decision: object) -> str:
        if self.text is None:
            raise RuntimeError("renderer bug")
        return self.text


def test_reports_are_staged_one_at_a_time_and_put_in_place_only_when_all_rendered(tmp_path: Path) -> None:
    from ci_scan.reports import write_reports

    first, second, fresh = tmp_path / "a.json", tmp_path / "b.xml", tmp_path / "new" / "c.md"
    first.write_text("old a\n")
    second.write_text("old b\n")
    # The third renderer fails after the first two were staged: nothing is replaced, no temporary file stays.
    requests = [(_Rendered("json", "new a\n"), first), (_Rendered("junit", "new b\n"), second),
                (_Rendered("markdown", None), fresh)]
    with pytest.raises(RuntimeError, match="renderer bug"):
        write_reports(requests, object())  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.xml"]
    assert (first.read_text(), second.read_text()) == ("old a\n", "old b\n")
    # All render: each is put in place, the one in a folder still to make too.
    requests[2] = (_Rendered("markdown", "# c\n"), fresh)
    assert write_reports(requests, object()) == [first, second, fresh]  # type: ignore[arg-type]
    assert (first.read_text(), second.read_text(), fresh.read_text()) == ("new a\n", "new b\n", "# c\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.xml", "new"]
