"""The console's runtime SBOM as ci-scan reads it (ModelSbomResponse, API_NOTES §7.4)."""

from __future__ import annotations

import pytest

from ci_scan.errors import ConsoleResponseError
from ci_scan.scan import _packages
from ci_scan.wire import parse_sbom


def test_entries_keep_their_locations_and_licences() -> None:
    entries = parse_sbom([
        {"package_name": "openssl", "version": "3.0.2", "cve_id": "CVE-1", "locations": ["/usr/lib/libssl.so.3", ""],
         "licenses": ["Apache-2.0"], "severity": "high", "cve_node_id": "n"},
        {"package_name": "openssl", "version": "3.0.2", "cve_id": "CVE-2", "locations": ["/lib/x\x1b[31m"],
         "licenses": None},
        {"package_name": "zlib", "version": "1.2.11"},
        {"package_name": "", "version": "1"},
    ])
    assert [(e.package, e.locations, e.licenses) for e in entries[:3]] == [
        ("openssl", ("/usr/lib/libssl.so.3",), ("Apache-2.0",)),
        ("openssl", ("/lib/x\x1b[31m",), ()),  # kept: every output neutralises it
        ("zlib", (), ()),
    ]
    packages = _packages(entries)
    assert [(p.name, p.version, p.locations, p.licenses) for p in packages] == [
        ("openssl", "3.0.2", ("/usr/lib/libssl.so.3", "/lib/x\x1b[31m"), ("Apache-2.0",)),
        ("zlib", "1.2.11", (), ()),
    ]


@pytest.mark.parametrize("bad", [{"package_name": "a", "locations": "not a list"}, "not an object"])
def test_a_malformed_entry_is_a_console_error(bad: object) -> None:
    with pytest.raises(ConsoleResponseError, match="malformed reply from the console"):
        parse_sbom([bad])
