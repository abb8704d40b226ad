from __future__ import annotations

import pytest

from ci_scan.models import Finding, ImageRef, ImageRefError, Severity

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("registry.example.com/team/app:1.4.2", "registry.example.com", "team/app", "1.4.2", None),
        ("registry.example.com:5000/team/app", "registry.example.com:5000", "team/app", "latest", None),
        ("localhost/app:dev", "localhost", "app", "dev", None),
        ("nginx", None, "nginx", "latest", None),
        ("acme/app:2.0", None, "acme/app", "2.0", None),
        (f"team/app@{DIGEST}", None, "team/app", None, DIGEST),
        (f"reg.io/team/app:1.0@{DIGEST}", "reg.io", "team/app", "1.0", DIGEST),
        ("Registry.Example.com/a/b/c:v1_2-3", "registry.example.com", "a/b/c", "v1_2-3", None),
    ],
)
def test_image_refs_parse(text: str, registry: str | None, repository: str, tag: str | None,
                          digest: str | None) -> None:
    ref = ImageRef.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


@pytest.mark.parametrize(
    "text",
    ["", "  ", "https://registry.example.com/app", "Team/App:1", "app:bad tag", "app@sha256:123",
     "reg.io/", "app:", "a//b"],
)
def test_bad_image_refs_are_refused(text: str) -> None:
    with pytest.raises(ImageRefError):
        ImageRef.parse(text)


def test_image_ref_round_trips_and_defaults_to_docker_hub() -> None:
    ref = ImageRef.parse("acme/app")
    assert str(ref) == "acme/app:latest"
    assert ref.registry_host == "docker.io"
    digest_ref = ImageRef.parse(f"reg.io/app@{DIGEST}")
    assert str(digest_ref) == f"reg.io/app@{DIGEST}"
    assert digest_ref.digest_hex == "ab" * 32


def test_severity_order_and_parse() -> None:
    assert Severity.CRITICAL > Severity.HIGH > Severity.MEDIUM > Severity.LOW > Severity.UNKNOWN
    assert Severity.parse(" High ") is Severity.HIGH
    assert Severity.parse("negligible") is Severity.UNKNOWN
    assert Severity.CRITICAL.label == "critical"


def test_finding_fingerprint_is_stable_and_distinguishes_paths() -> None:
    a = Finding("CVE-1", Severity.HIGH, "openssl:3.0.2")
    b = Finding("CVE-1", Severity.HIGH, "openssl:3.0.2", package_path="/usr/lib/x")
    assert a.fingerprint("reg/app") == Finding("CVE-1", Severity.LOW, "openssl:3.0.2").fingerprint("reg/app")
    assert a.fingerprint("reg/app") != b.fingerprint("reg/app")
    assert a.fingerprint("reg/app") != a.fingerprint("reg/other")
    assert (a.package_name, a.package_version) == ("openssl", "3.0.2")
