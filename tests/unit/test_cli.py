"""The click layer's wiring: options and variables reach Settings, failures become one line and a code."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pytest

from ci_scan import cli
from ci_scan.config import Settings
from ci_scan.errors import ExitCode, ScanFailed

TOKEN = "c2VjcmV0OjEyMzQ1Njc4LTEyMzQtNDEyMy04MTIzLTEyMzQ1Njc4OTAxMg"


def invoke(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["ci-scan", *args])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out + captured.err


@pytest.fixture
def captured_settings(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    seen: list[Settings] = []

    def fake_run(settings: Settings) -> ExitCode:
        seen.append(settings)
        return ExitCode.GATE_FAILED

    import ci_scan.app

    monkeypatch.setattr(ci_scan.app, "run", fake_run)
    return seen


def test_options_and_environment_reach_the_settings(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str],
                                                    captured_settings: list[Settings]) -> None:
    monkeypatch.setenv("DEEPFENCE_CONSOLE_URL", "deepfence.example.com")
    monkeypatch.setenv("DEEPFENCE_API_TOKEN", "from-deepfence-var")
    monkeypatch.setenv("CI_SCAN_API_TOKEN", TOKEN)  # CI_SCAN_* wins
    monkeypatch.setenv("CI_SCAN_FAIL_ON", "HIGH")
    monkeypatch.setenv("CI_SCAN_SYNC", "true")
    code, _ = invoke(monkeypatch, capsys, "scan", "image", "reg.io/app:1", "--timeout", "90s", "--sarif", "s.sarif")
    assert code == ExitCode.GATE_FAILED
    settings = captured_settings[0]
    assert settings.console_url == "https://deepfence.example.com"
    assert settings.api_token == TOKEN
    assert settings.policy.threshold_label == "high"
    assert settings.scan.sync is True and settings.scan.timeout == 90
    assert settings.reports == (("sarif", "s.sarif"),)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["scan", "image"], "no image to scan"),
        (["scan", "image", "app:ü"], "non-ASCII character"),
        (["scan", "registry"], "Missing argument 'REGISTRY'"),
        (["scan", "registry", "r", "--tags", "newest"], "'newest' is not one of"),
        (["results"], "Missing argument 'SCAN_ID...'"),
        (["scan", "image", "app", "--images-from", "/no/such/file"], "cannot read --images-from"),
        (["scan", "image", "app", "--console-url", "c", "--reuse-within", "soon"], "invalid duration"),
        (["scan", "image", "app", "--console-url", "c", "--max-parallel", "0"], "--max-parallel must be"),
        (["scan", "image", "app", "--fail-on", "severe"], "'severe' is not one of"),
        (["scan", "image", "app", "--page-size", "many"], "'many' is not a valid integer"),
        (["scan", "image", "app"], "no console URL"),
        (["no-such-command"], "No such command"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                              args: list[str], needle: str) -> None:
    monkeypatch.setenv("DEEPFENCE_API_TOKEN", TOKEN)
    code, output = invoke(monkeypatch, capsys, *args)
    assert code == ExitCode.USAGE
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ci-scan: error:") and needle in lines[0], output
    assert TOKEN not in output


def test_a_crash_exits_3_without_traceback_or_token(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import ci_scan.app

    def crash(settings: Settings) -> ExitCode:
        raise RuntimeError(f"bug while holding {settings.api_token}")

    monkeypatch.setattr(ci_scan.app, "run", crash)
    code, output = invoke(monkeypatch, capsys, "scan", "image", "app", "--console-url", "c", "--api-token", TOKEN)
    assert code == ExitCode.SCAN_INCOMPLETE
    assert "internal error: RuntimeError: bug while holding ***" in output
    assert TOKEN not in output and "Traceback" not in output


def test_errors_raised_outside_the_app_keep_their_exit_code(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import ci_scan.app

    def fail(settings: Settings) -> ExitCode:
        raise ScanFailed("scan x ended ERROR")

    monkeypatch.setattr(ci_scan.app, "run", fail)
    code, output = invoke(monkeypatch, capsys, "scan", "image", "app", "--console-url", "c", "--api-token", TOKEN)
    assert code == ExitCode.SCAN_INCOMPLETE and output.strip() == "ci-scan: error: scan x ended ERROR"


def test_help_lists_exit_codes_and_every_variable(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, output = invoke(monkeypatch, capsys, "scan", "image", "--help")
    assert code == 0
    for name in ("CONSOLE_URL", "API_TOKEN", "REGISTRY", "FAIL_ON", "TIMEOUT", "JUNIT", "SARIF", "JSON",
                 "INSECURE", "CA_BUNDLE", "SYNC"):
        assert f"CI_SCAN_{name}" in output
    assert "DEEPFENCE_API_TOKEN" in output


def test_readme_documents_every_option_and_variable() -> None:
    """Each command's options come from one table; the README holds each one's row exactly as generated."""
    import re

    from ci_scan.options import EVERY_OPTION
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    commands = {"scan image": cli.scan_image, "scan registry": cli.scan_registry, "results": cli.results,
                "scan host": cli.scan_host, "scan container": cli.scan_container, "watch": cli.watch,
                "scan all": cli.scan_all}
    declared: set[str] = set()
    for command in commands.values():
        declared |= {opt for param in command.params for opt in param.opts if opt.startswith("--")}
        for param in command.params:
            if isinstance(param, click.Argument):
                continue
            variables = [param.envvar] if isinstance(param.envvar, str) else param.envvar or []
            assert variables, f"{param.name} has no environment variable"
            for variable in variables:
                assert f"`{variable}`" in readme, variable
    documented = set(re.findall(r"^\| `(--[a-z-]+)", readme, flags=re.MULTILINE))
    aliases = {f"--{alias.replace('_', '-')}" for option in EVERY_OPTION for alias in option.aliases}
    assert documented == declared - {"--help", "--no-sync"} - aliases
    for option in EVERY_OPTION:  # an older name is still named in its option's row
        assert all(f"--{alias.replace('_', '-')}" in option.readme_row() for alias in option.aliases)
    for option in EVERY_OPTION:
        assert option.readme_row() in readme, f"README row of {option.flag} differs from:\n{option.readme_row()}"


def test_images_come_from_arguments_a_file_and_standard_input(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str],
                                                              captured_settings: list[Settings],
                                                              tmp_path: Path) -> None:
    import io

    from ci_scan.config import ImageScan

    listing = tmp_path / "images.txt"
    listing.write_text("# images to gate\nreg.io/a:1\n\n  reg.io/b:2  # pinned\nreg.io/a:1\n")
    monkeypatch.setenv("DEEPFENCE_API_TOKEN", TOKEN)
    monkeypatch.setenv("DEEPFENCE_CONSOLE_URL", "c")
    code, _ = invoke(monkeypatch, capsys, "scan", "image", "reg.io/c:3", "--images-from", str(listing))
    assert code == ExitCode.GATE_FAILED
    request = captured_settings[-1].request
    assert isinstance(request, ImageScan)
    assert [str(r) for r in request.refs] == ["reg.io/c:3", "reg.io/a:1", "reg.io/b:2"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("reg.io/d:4\n"))
    invoke(monkeypatch, capsys, "scan", "image", "--images-from", "-")
    request = captured_settings[-1].request
    assert isinstance(request, ImageScan) and [str(r) for r in request.refs] == ["reg.io/d:4"]


def test_a_bad_line_in_the_image_list_is_named(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    listing = tmp_path / "images.txt"
    listing.write_text("reg.io/a:1\nReg.io/Team/App\n")
    monkeypatch.setenv("DEEPFENCE_API_TOKEN", TOKEN)
    code, output = invoke(monkeypatch, capsys, "scan", "image", "--images-from", str(listing))
    assert code == ExitCode.USAGE
    assert f"{listing} line 2:" in output and len(output.strip().splitlines()) == 1


def test_registry_and_results_commands_reach_the_settings(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str],
                                                          captured_settings: list[Settings]) -> None:
    from ci_scan.config import ExistingScans, RegistryScan

    monkeypatch.setenv("DEEPFENCE_API_TOKEN", TOKEN)
    monkeypatch.setenv("DEEPFENCE_CONSOLE_URL", "c")
    invoke(monkeypatch, capsys, "scan", "registry", "example-registry", "--tags", "ALL", "--repository", "team/app",
           "--repository", "team/big")
    registry = captured_settings[-1]
    assert registry.request == RegistryScan("example-registry", "all", ("team/app", "team/big"))
    invoke(monkeypatch, capsys, "results", "a-1", "b-2", "a-1")
    results = captured_settings[-1]
    assert results.request == ExistingScans(("a-1", "b-2"))


def test_settings_know_which_options_were_given(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                captured_settings: list[Settings]) -> None:
    monkeypatch.setenv("DEEPFENCE_API_TOKEN", TOKEN)
    monkeypatch.setenv("CI_SCAN_TIMEOUT", "5m")
    monkeypatch.setenv("CI_SCAN_FAIL_ON", "")  # empty counts as not given
    invoke(monkeypatch, capsys, "scan", "image", "app", "--console-url", "c", "--max-parallel", "2")
    given = captured_settings[-1].given
    expected = {"timeout": "env", "max_parallel": "flag", "console_url": "flag", "api_token": "env"}
    assert expected.items() <= given.items()
    assert "fail_on" not in given and "page_size" not in given
    assert captured_settings[-1].policy.threshold_label == "critical"


def test_every_command_given_options_builds_them() -> None:
    """`options.apply` only marks a function: a command that is not a LazyCommand would get none of them."""
    from ci_scan.options import LazyCommand

    def walk(command: click.Command) -> list[click.Command]:
        children = command.commands.values() if isinstance(command, click.Group) else []
        return [command, *(c for child in children for c in walk(child))]

    marked = [c for c in walk(cli.cli) if getattr(c.callback, "__ci_scan_options__", ())]
    assert len(marked) == 9
    for command in marked:
        assert isinstance(command, LazyCommand), command.name
        names = {p.name for p in command.params}
        assert {o.field for o in command.callback.__ci_scan_options__} <= names, command.name  # type: ignore[union-attr]
