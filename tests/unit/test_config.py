from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ci_scan.config import (
    CA_VARIABLES,
    Settings,
    normalise_console_url,
    parse_duration,
    read_image_refs,
    read_scan_ids,
)
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


def _build(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"console_url": "https://c", "api_token": "tok",
                                 "request": read_image_refs(["reg.io/app:1"], None)}
    values.update(overrides)
    return Settings.build(**values)


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
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
        ({"max_parallel": 0}, "--max-parallel"),
        ({"reuse_within": "later"}, "invalid duration"),
        ({"policy": {"fail_on": "severe"}}, "--fail-on"),
        ({"languages": "base,cobol"}, "cobol"),
        ({"page_size": 5000}, "--page-size"),
        ({"insecure": True, "ca_bundle": __file__}, "contradict"),
        ({"ca_bundle": "/no/such/ca.pem"}, "--ca-bundle"),
        ({"timeout": "soon"}, "invalid duration"),
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


def test_image_lists_keep_order_drop_duplicates_and_name_every_bad_line(tmp_path: Path) -> None:
    import io

    listing = tmp_path / "images"
    listing.write_text("reg.io/a:1\n# a comment\n\treg.io/b:2 # trailing\nhttps://x/y\nreg.io/a:1\nBad/Name\n")
    with pytest.raises(ConfigError) as refused:
        read_image_refs(["reg.io/c"], str(listing))
    message = str(refused.value)
    assert f"{listing} line 4:" in message and "looks like a URL" in message and f"{listing} line 6:" in message
    listing.write_text("reg.io/a:1\nreg.io/b:2\nreg.io/a:1\n")
    request = read_image_refs(["reg.io/b:2"], str(listing))
    assert [str(r) for r in request.refs] == ["reg.io/b:2", "reg.io/a:1"]
    request = read_image_refs([], "-", stdin=io.StringIO("reg.io/z:9\n"))
    assert [str(r) for r in request.refs] == ["reg.io/z:9"]
    with pytest.raises(ConfigError, match="no image to scan"):
        read_image_refs([], "-", stdin=io.StringIO("# nothing\n"))


def test_scan_ids_are_deduplicated_and_checked() -> None:
    assert read_scan_ids(["a-1", " b-2 ", "a-1"]).scan_ids == ("a-1", "b-2")
    with pytest.raises(ConfigError, match="not a scan id"):
        read_scan_ids(["a 1"])
