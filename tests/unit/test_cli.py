"""The click layer's wiring: options and variables reach Settings, failures become one line and a code."""

from __future__ import annotations

import sys

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
        (["scan", "image"], "Missing argument 'IMAGE_REF'"),
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
    import re

    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `(--[a-z-]+)", readme, flags=re.MULTILINE))
    command = cli.scan_image
    declared = {opt for param in command.params for opt in param.opts if opt.startswith("--")}
    assert documented == declared - {"--help"}
    for param in command.params:
        variables = [param.envvar] if isinstance(param.envvar, str) else param.envvar or []
        assert variables, f"{param.name} has no environment variable"
        for variable in variables:
            assert f"`{variable}`" in readme, variable
