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


SHA512 = "sha512:" + "cd" * 64
MULTIHASH = "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"  # the OCI image-spec's example


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        # hosts: a name with '.', a port, localhost, IPv4, bracketed IPv6 (lower-cased like any host)
        ("registry.example.com:5000/team/app:1.0", "registry.example.com:5000", "team/app", "1.0", None),
        ("reg.io:1/app", "reg.io:1", "app", "latest", None),
        ("reg.io:65535/app", "reg.io:65535", "app", "latest", None),
        ("REG.io:443/app", "reg.io:443", "app", "latest", None),
        ("my-reg.a-b.example/app", "my-reg.a-b.example", "app", "latest", None),
        ("10.0.0.1:5000/team/app", "10.0.0.1:5000", "team/app", "latest", None),
        ("localhost/app", "localhost", "app", "latest", None),
        ("localhost:5000/team/app:dev", "localhost:5000", "team/app", "dev", None),
        ("[::1]/app", "[::1]", "app", "latest", None),
        ("[::1]:5000/app:1", "[::1]:5000", "app", "1", None),
        ("[2001:DB8::1]:443/team/app", "[2001:db8::1]:443", "team/app", "latest", None),
        # no '.', ':' or localhost: the first component is part of the path (Docker Hub)
        ("team/app", None, "team/app", "latest", None),
        ("a/b/c/d/e:1", None, "a/b/c/d/e", "1", None),
        # without a '/', 'host:port' is a repository and a tag, as Docker reads it
        ("localhost:5000", None, "localhost", "5000", None),
        ("reg.io:5000", None, "reg.io", "5000", None),
        # path separators
        ("team/my__app", None, "team/my__app", "latest", None),
        ("team/my--app", None, "team/my--app", "latest", None),
        ("team/my---app", None, "team/my---app", "latest", None),
        ("a_b-c/d.e", None, "a_b-c/d.e", "latest", None),
        ("0/9", None, "0/9", "latest", None),
        # tags: up to 128 of letters (either case), digits, '_', '.', '-', not starting with '.' or '-'
        ("app:" + "t" * 128, None, "app", "t" * 128, None),
        ("app:_x", None, "app", "_x", None),
        ("app:V1.2-rc_3", None, "app", "V1.2-rc_3", None),
        ("app:0", None, "app", "0", None),
        # names up to 255 characters, host included
        ("a" * 255, None, "a" * 255, "latest", None),
        ("reg.io/" + "a" * 248 + ":" + "t" * 128, "reg.io", "a" * 248, "t" * 128, None),
        # digests: sha256, sha512, any other algorithm the grammar allows; tag and digest both kept
        (f"app@{SHA512}", None, "app", None, SHA512),
        (f"reg.io/team/app:1.0@{SHA512}", "reg.io", "team/app", "1.0", SHA512),
        (f"app@{MULTIHASH}", None, "app", None, MULTIHASH),
        ("app@blake3:" + "e" * 64, None, "app", None, "blake3:" + "e" * 64),
        ("app@x.y_z-1:" + "A=_-" * 8, None, "app", None, "x.y_z-1:" + "A=_-" * 8),
        # surrounding spaces and tabs are trimmed
        ("  team/app:1 \t", None, "team/app", "1", None),
        ("\tapp", None, "app", "latest", None),
    ],
)
def test_image_refs_follow_the_distribution_grammar(
    text: str, registry: str | None, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = ImageRef.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "is empty"),
        (" \t ", "is empty"),
        ("https://registry.example.com/app", "looks like a URL"),
        # paths are lowercase components joined by '.', '_', '__' or dashes
        ("Team/App", "uppercase letters in 'Team'"),
        ("team/App:1", "uppercase letters in 'App'"),
        ("reg.io/Team/app", "uppercase letters in 'Team'"),
        ("team/a___b", "invalid path component 'a___b'"),
        ("team/a..b", "invalid path component 'a..b'"),
        ("team/a._b", "invalid path component 'a._b'"),
        ("team/-app", "invalid path component '-app'"),
        ("team/app-", "invalid path component 'app-'"),
        ("team/_app", "invalid path component '_app'"),
        ("team/.app", "invalid path component '.app'"),
        ("team/my app", "invalid path component 'my app'"),
        ("a//b", "empty path component"),
        ("/app", "empty path component"),
        ("team/", "empty path component"),
        ("reg.io/", "no repository path"),
        ("reg.io:5000/", "no repository path"),
        (f"@{DIGEST}", "no repository path"),
        (":1", "no repository path"),
        # tags
        ("app:", "empty tag"),
        ("app:" + "t" * 129, "tag of 129 characters"),
        ("app:.hidden", "starting with '.'"),
        ("app:-rc1", "starting with '-'"),
        ("app:bad tag", "invalid tag 'bad tag'"),
        ("app:a+b", "invalid tag 'a+b'"),
        ("app:1:2", "invalid path component 'app:1'"),
        # control and non-ASCII characters, wherever they are
        ("app:ü", "non-ASCII character 'ü'"),
        ("äpp", "non-ASCII character 'ä'"),
        ("app:１", "non-ASCII character '１'"),
        ("app:1\n", r"control character '\n'"),
        ("app\n:1", r"control character '\n'"),
        ("\napp", r"control character '\n'"),
        ("app:1 \n ", r"control character '\n'"),
        ("team/app\r", r"control character '\r'"),
        ("app\x00", r"control character '\x00'"),
        ("app:1\x1b[31m", r"control character '\x1b'"),
        ("app\x7f", r"control character '\x7f'"),
        ("app:a\tb", r"control character '\t'"),
        ("app:1\u2028", "non-ASCII character"),
        # names longer than 255 characters, host included
        ("a" * 256, "name of 256 characters"),
        ("reg.io/" + "a" * 249, "name of 256 characters"),
        ("a" * 256 + ":1", "name of 256 characters"),
        # digests
        ("app@sha256:123", "malformed digest"),
        ("app@sha256:" + "a" * 63, "malformed sha256 digest (63 characters"),
        ("app@sha256:" + "a" * 65, "malformed sha256 digest (65 characters"),
        ("app@sha256:" + "AB" * 32, "malformed sha256 digest"),
        ("app@sha256:" + "g" * 64, "malformed sha256 digest"),
        ("app@sha512:" + "a" * 64, "malformed sha512 digest (64 characters"),
        ("app@sha512:" + "a" * 127, "malformed sha512 digest (127 characters"),
        ("app@sha512:" + "AB" * 64, "malformed sha512 digest"),
        ("app@:" + "a" * 64, "malformed digest"),
        ("app@" + "a" * 64, "malformed digest"),
        ("app@SHA256:" + "a" * 64, "malformed digest"),
        ("app@sha256-:" + "a" * 64, "malformed digest"),
        ("app@md5:" + "a" * 31, "malformed digest"),
        ("app@blake3:" + "a" * 31, "malformed digest"),
        ("app@", "malformed digest"),
        (f"app@{DIGEST}@{DIGEST}", "malformed digest"),
        (f"app@{DIGEST}:1", "malformed digest"),
        # registry hosts and ports
        ("reg.io:0/app", "port 0 out of range"),
        ("localhost:0/app", "port 0 out of range"),
        ("reg.io:65536/app", "port 65536 out of range"),
        ("reg.io:99999999/app", "port 99999999 out of range"),
        ("reg.io:http/app", "invalid registry port 'http'"),
        ("reg.io:-1/app", "invalid registry port '-1'"),
        ("reg.io:/app", "invalid registry port ''"),
        ("reg.io:50:00/app", "invalid registry port '50:00'"),
        ("-reg.io/app", "invalid registry host '-reg.io'"),
        ("reg-.io/app", "invalid registry host 'reg-.io'"),
        ("reg..io/app", "invalid registry host 'reg..io'"),
        ("reg_x.io/app", "invalid registry host 'reg_x.io'"),
        (".reg.io/app", "invalid registry host '.reg.io'"),
        (":5000/app", "invalid registry host ''"),
        ("::1/app", "invalid registry host ''"),
        ("[::1/app", "invalid IPv6 registry host '[::1'"),
        ("[::g]/app", "invalid IPv6 registry host"),
        ("[1]/app", "invalid IPv6 registry host"),
        ("[]/app", "invalid IPv6 registry host"),
        ("[::1]x/app", "invalid IPv6 registry host"),
        ("[::1]:0/app", "port 0 out of range"),
        ("[::1]:/app", "invalid registry port ''"),
    ],
)
def test_image_refs_outside_the_grammar_are_refused(text: str, problem: str) -> None:
    with pytest.raises(ImageRefError) as caught:
        ImageRef.parse(text)
    message = str(caught.value)
    assert problem in message
    assert message.isprintable(), "one line, no raw control character"
    if text.strip(" \t"):
        assert repr(text) in message
    assert "valid reference looks like" in message or "such as registry/repo:tag" in message


def test_image_ref_errors_escape_what_they_show() -> None:
    with pytest.raises(ImageRefError) as caught:
        ImageRef.parse("team/app:1\n")
    assert str(caught.value).startswith(r"'team/app:1\n' contains a control character '\n' (U+000A); ")
    with pytest.raises(ImageRefError, match=r"U\+00FC"):
        ImageRef.parse("app:ü")


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("Registry.Example.com:5000/team/app", "registry.example.com:5000/team/app:latest"),
        ("[2001:DB8::1]:443/app:1", "[2001:db8::1]:443/app:1"),
        ("localhost/a__b/c--d:x.y", "localhost/a__b/c--d:x.y"),
        (f"app@{SHA512}", f"app@{SHA512}"),
        (f"reg.io/app@{MULTIHASH}", f"reg.io/app@{MULTIHASH}"),
        ("  a/b:c\t", "a/b:c"),
    ],
)
def test_image_refs_print_as_they_parse(text: str, printed: str) -> None:
    ref = ImageRef.parse(text)
    assert str(ref) == printed
    assert ImageRef.parse(str(ref)) == ref


def test_image_ref_with_tag_and_digest_prints_the_digest() -> None:
    ref = ImageRef.parse(f"reg.io/app:1.0@{SHA512}")
    assert (ref.tag, ref.digest, ref.digest_hex) == ("1.0", SHA512, "cd" * 64)
    assert str(ref) == f"reg.io/app@{SHA512}"  # the pinned form: the digest is what was scanned
    again = ImageRef.parse(str(ref))
    assert (again.registry, again.repository, again.tag, again.digest) == ("reg.io", "app", None, SHA512)


def test_severity_order_and_parse() -> None:
    assert Severity.CRITICAL > Severity.HIGH > Severity.MEDIUM > Severity.LOW > Severity.UNKNOWN
    assert Severity.parse(" High ") is Severity.HIGH
    assert Severity.parse("negligible") is Severity.UNKNOWN
    assert Severity.CRITICAL.label == "critical"


def test_finding_fingerprint_is_stable_and_distinguishes_paths() -> None:
    a = Finding("vulnerability", "CVE-1", Severity.HIGH, "openssl:3.0.2")
    b = Finding("vulnerability", "CVE-1", Severity.HIGH, "openssl:3.0.2", location="/usr/lib/x")
    low = Finding("vulnerability", "CVE-1", Severity.LOW, "openssl:3.0.2")
    assert a.fingerprint("reg/app") == low.fingerprint("reg/app")
    assert a.fingerprint("reg/app") != b.fingerprint("reg/app")
    assert a.fingerprint("reg/app") != a.fingerprint("reg/other")
    assert (a.package_name, a.package_version) == ("openssl", "3.0.2")
    # Earlier versions' fingerprints of vulnerabilities survive the reshape (GitHub keys alerts on them).
    assert a.fingerprint("reg/app") == "bdcea2fb9103e0bc16ad01091710f59e"  # what 0.1's Finding gave
    secret = Finding("secret", "CVE-1", Severity.HIGH, "openssl:3.0.2")
    assert secret.fingerprint("reg/app") != a.fingerprint("reg/app")


def test_equal_findings_hash_alike_in_any_process() -> None:
    import pickle
    import subprocess
    import sys

    from ci_scan.models import VulnerabilityDetails

    finding = Finding("vulnerability", "CVE-2024-1", Severity.HIGH, "openssl:3.0.1", location="/usr/lib",
                      details=VulnerabilityDetails(urls=("https://example.com",)))
    twin = Finding("vulnerability", "CVE-2024-1", Severity.HIGH, "openssl:3.0.1", location="/usr/lib",
                   details=VulnerabilityDetails(urls=("https://example.com",)))
    other = Finding("vulnerability", "CVE-2024-1", Severity.HIGH, "openssl:3.0.2", location="/usr/lib")
    # Equal but for a field the hash leaves out: still unequal, so both stay in a set.
    rescored = Finding("vulnerability", "CVE-2024-1", Severity.CRITICAL, "openssl:3.0.1", location="/usr/lib")
    assert hash(finding) == hash(twin) and finding == twin
    assert {finding: 1}.get(twin) == 1 and other not in {finding, twin}
    assert len({finding, twin, rescored}) == 2 and rescored not in {finding}
    assert (finding.package_name, finding.package_version) == ("openssl", "3.0.1")
    blob = pickle.dumps(finding)
    script = ("import pickle, sys; f = pickle.loads(sys.stdin.buffer.read()); "
              "from ci_scan.models import Finding, Severity; "
              "g = Finding('vulnerability', 'CVE-2024-1', Severity.HIGH, 'openssl:3.0.1', location='/usr/lib', "
              "details=f.details); print(hash(f) == hash(g) and g in {f})")
    out = subprocess.run([sys.executable, "-c", script], input=blob, capture_output=True, check=True).stdout
    assert out.strip() == b"True"
