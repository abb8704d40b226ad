"""Every criterion and narrowing option works from its flag, its variable and the policy file, and the
policy records which of them set it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_scan.config import Settings
from ci_scan.policy import CRITERIA, NARROWING
from tests.unit.test_cli import TOKEN, captured_settings, invoke

__all__ = ["captured_settings"]  # the fixture, imported for pytest

VALUES = {
    "fail_on": ("high", "--fail-on high"),
    "max_critical": ("2", "--max-critical 2"),
    "max_high": ("3", "--max-high 3"),
    "max_medium": ("4", "--max-medium 4"),
    "max_low": ("5", "--max-low 5"),
    "max_total": ("6", "--max-total 6"),
    "max_secrets": ("0", "--max-secrets 0"),
    "max_malware": ("1", "--max-malware 1"),
    "fail_on_count": ("7", "--fail-on-count 7"),
    "fail_on_critical_count": ("1", "--fail-on-critical-count 1"),
    "fail_on_high_count": ("2", "--fail-on-high-count 2"),
    "fail_on_medium_count": ("3", "--fail-on-medium-count 3"),
    "fail_on_low_count": ("4", "--fail-on-low-count 4"),
    "fail_on_score": ("2.5", "--fail-on-score 2.5"),
    "fail_on_kev": ("true", "--fail-on-kev"),
    "fail_on_exploit": ("true", "--fail-on-exploit"),
    "fail_on_epss": ("0.3", "--fail-on-epss 0.3"),
    "only_network": ("true", "--only-network"),
    "only_live": ("true", "--only-live"),
    "ignore_unfixed": ("true", "--ignore-unfixed"),
}
FLAGS = {"fail_on_kev", "fail_on_exploit", *NARROWING}


def test_the_table_covers_every_criterion_and_narrowing_option() -> None:
    assert set(VALUES) == {*CRITERIA, *NARROWING}


def _settings(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], seen: list[Settings],
              *args: str) -> Settings:
    monkeypatch.setenv("DEEPFENCE_API_TOKEN", TOKEN)
    code, output = invoke(monkeypatch, capsys, "scan", "image", "app", "--console-url", "c", *args)
    assert code == 1, output  # the fake run's exit code: the settings were built
    return seen[-1]


def _in_force(settings: Settings, field: str) -> list[tuple[str, str]]:
    policy = settings.policy
    return policy.narrowing_sources() if field in NARROWING else policy.criteria_sources()


@pytest.mark.parametrize("field", sorted(VALUES))
@pytest.mark.parametrize("where", ["flag", "env", "file"])
def test_each_option_from_each_place(field: str, where: str, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str], captured_settings: list[Settings],
                                     tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    value, shown = VALUES[field]
    name = field.replace("_", "-")
    args: list[str] = []
    if where == "flag":
        args = [f"--{name}"] if field in FLAGS else [f"--{name}", value]
        expected = f"--{name}"
    elif where == "env":
        monkeypatch.setenv(f"CI_SCAN_{field.upper()}", value)
        expected = f"CI_SCAN_{field.upper()}"
    else:
        (tmp_path / ".ci-scan.yml").write_text(f"# the team's policy\n{name}: {value}\n")
        expected = ".ci-scan.yml line 2"
    settings = _settings(monkeypatch, capsys, captured_settings, *args)
    in_force = _in_force(settings, field)
    assert (shown, expected) in in_force, in_force
    if field in ("max_secrets", "max_malware"):  # a limit on one kind leaves the default on vulnerabilities
        assert settings.policy.fail_on is not None and settings.policy.fail_on.label == "critical"
    elif field in CRITERIA and field != "fail_on":  # any other criterion turns the default threshold off
        assert settings.policy.fail_on is None
    if field in NARROWING:  # narrowing never does
        assert settings.policy.criteria_sources() == [("--fail-on critical", "default")]


@pytest.mark.parametrize("field", sorted(set(VALUES) - FLAGS))
def test_a_flag_beats_the_file_and_an_empty_variable_does_not(field: str, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str],
                                                              captured_settings: list[Settings],
                                                              tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    value, shown = VALUES[field]
    name = field.replace("_", "-")
    (tmp_path / ".ci-scan.yml").write_text(f"{name}: {value}\n")
    monkeypatch.setenv(f"CI_SCAN_{field.upper()}", "")
    from_file = _settings(monkeypatch, capsys, captured_settings)
    assert (shown, ".ci-scan.yml line 1") in _in_force(from_file, field)
    other = "critical" if field == "fail_on" else "0.9" if field in ("fail_on_epss",) else "9"
    overridden = _settings(monkeypatch, capsys, captured_settings, f"--{name}", other)
    assert (f"--{name} {other}", f"--{name}") in _in_force(overridden, field)
    assert not [pair for pair in _in_force(overridden, field) if pair[1].startswith(".ci-scan.yml")]


@pytest.mark.parametrize("field", sorted(FLAGS))
def test_a_no_flag_switches_off_what_the_file_switched_on(field: str, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str],
                                                          captured_settings: list[Settings], tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    name = field.replace("_", "-")
    (tmp_path / ".ci-scan.yml").write_text(f"max-total: 100\n{name}: true\n")
    on = _settings(monkeypatch, capsys, captured_settings)
    assert (VALUES[field][1], ".ci-scan.yml line 2") in _in_force(on, field)
    off = _settings(monkeypatch, capsys, captured_settings, f"--no-{name}")
    assert not [pair for pair in _in_force(off, field) if pair[0] == VALUES[field][1]]
    assert getattr(off.policy, field) is False
