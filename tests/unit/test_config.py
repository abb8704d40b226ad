from __future__ import annotations

from pathlib import Path

import pytest

from ci_scan.config import Settings, normalise_console_url, parse_duration
from ci_scan.errors import ConfigError


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("1h30m", 5400), ("45", 45),
                                                ("0.5s", 0.5), (" 2M ", 120)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0s", "ten", "5d", "30m!", "-5s", "m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ConfigError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("console.example.com", "https://console.example.com"),
        ("https://console.example.com/", "https://console.example.com"),
        ("https://console.example.com:8443/deepfence/", "https://console.example.com:8443"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ],
)
def test_console_urls(url: str, expected: str) -> None:
    assert normalise_console_url(url) == expected


@pytest.mark.parametrize("url", ["", "ftp://x", "https://user:pw@console", "https://", "https://host:abc",
                                 "https://[::1", "https://host:99999"])
def test_bad_console_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        normalise_console_url(url)


def _build(**overrides: object) -> Settings:
    values: dict[str, object] = {"console_url": "https://c", "api_token": "tok", "image": "reg.io/app:1"}
    values.update(overrides)
    return Settings.build(**values)  # type: ignore[arg-type]


def test_settings_defaults() -> None:
    settings = _build()
    assert settings.scan.timeout == 1800
    assert settings.policy.threshold_label == "critical"
    assert settings.verify is True
    assert "tok" not in repr(settings)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"api_token": " "}, "no API token"),
        ({"console_url": None}, "no console URL"),
        ({"image": "https://x/y"}, "looks like a URL"),
        ({"fail_on": "severe"}, "--fail-on"),
        ({"languages": "base,cobol"}, "cobol"),
        ({"page_size": 5000}, "--page-size"),
        ({"insecure": True, "ca_bundle": __file__}, "contradict"),
        ({"ca_bundle": "/no/such/ca.pem"}, "--ca-bundle"),
        ({"timeout": "soon"}, "invalid duration"),
        ({"reports": {"json": "-", "sarif": "-"}}, "standard output"),
    ],
)
def test_settings_refuse_bad_options(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _build(**overrides)


def test_settings_tls_choices(tmp_path: Path) -> None:
    import ssl

    ca = ssl.get_default_verify_paths().cafile or ssl.get_default_verify_paths().openssl_cafile
    assert _build(insecure=True).verify is False
    if not ca or not Path(ca).is_file():
        pytest.skip("this machine has no system CA file to use as a bundle")
    assert _build(ca_bundle=ca).verify == ca
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("this is not a certificate")
    with pytest.raises(ConfigError, match="no usable PEM certificates"):
        _build(ca_bundle=str(not_pem))
