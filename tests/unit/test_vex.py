"""OpenVEX documents (--vex): loading, held to the spec's JSON Schema in ../shared, and matching findings on images."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from ci_scan.errors import ConfigError, ExitCode
from ci_scan.models import Finding, ImageRef, Severity, Target
from ci_scan.vex import VexStatement, applicable
from ci_scan.vex_reader import load_vex
from tests.conftest import shared_path

DATA = Path(__file__).resolve().parents[1] / "data" / "vex"
DIGEST = "sha256:" + "1" * 64
OTHER_DIGEST = "sha256:" + "2" * 64
APP = "registry.example.com/team/app:1.4.2"


@pytest.fixture(scope="module")
def schema() -> Any:
    """A Draft 2020-12 validator of ../shared/schemas/openvex-0.2.0.schema.json (skipped without ../shared)."""
    from jsonschema import Draft202012Validator

    document = json.loads(shared_path("schemas", "openvex-0.2.0.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(document)
    return Draft202012Validator(document)


def statement(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "vulnerability": {"name": "CVE-2024-0001"},
        "products": [{"@id": "registry.example.com/team/app"}],
        "status": "not_affected",
        "justification": "vulnerable_code_not_in_execute_path",
    }
    return {**base, **fields}


def document(*statements: dict[str, Any], **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://vex.example.com/team/app/1",
        "author": "Team App Security <security@example.com>",
        "timestamp": "2024-01-01T00:00:00Z",
        "version": 1,
        "statements": list(statements) or [statement()],
    }
    return {**base, **fields}


def without(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


def write(tmp_path: Path, content: Any, name: str = "vex.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(content, indent=2), encoding="utf-8")
    return str(path)


def valid(schema: Any, content: Any, tmp_path: Path, name: str = "vex.json") -> str:
    """`content` written to a file, once the shared schema has accepted it."""
    errors = [error.message for error in schema.iter_errors(content)]
    assert errors == [], errors
    return write(tmp_path, content, name)


def vulnerability(rule_id: str = "CVE-2024-0001", component: str = "openssl:3.0.2") -> Finding:
    return Finding("vulnerability", rule_id, Severity.HIGH, component)


def image(reference: str = APP, digest: str | None = DIGEST) -> Target:
    ref = ImageRef.parse(reference)
    return Target(kind="image", node_id="n1", node_type="image", name=str(ref), image=ref, digest=digest)


# Good documents.


def test_a_full_document_loads_every_statement(schema: Any) -> None:
    path = DATA / "app.openvex.json"
    assert [error.message for error in schema.iter_errors(json.loads(path.read_text(encoding="utf-8")))] == []
    first, second, third, fourth, fifth = load_vex([str(path)])
    issued = dt.datetime(2024, 5, 1, 18, 2, 3, 647787, tzinfo=dt.timezone(-dt.timedelta(hours=6)))

    assert (first.vulnerability, first.aliases) == (
        "CVE-2024-0001", ("GHSA-aaaa-bbbb-cccc", "https://nvd.nist.gov/vuln/detail/CVE-2024-0001"))
    assert (first.status, first.justification, first.timestamp, first.where) == (
        "not_affected", "vulnerable_code_not_in_execute_path", issued, "app.openvex.json statement 1")
    assert first.impact_statement == "The service never parses certificates from clients."
    (product,) = first.products
    assert product.identifiers[0].startswith("pkg:oci/app@sha256%3A1111")
    assert product.subcomponents == ("pkg:deb/debian/openssl@3.0.2?arch=amd64", "pkg:deb/debian/libssl3@3.0.2",
                                     "cpe:2.3:a:openssl:openssl:3.0.2:*:*:*:*:*:*:*")

    assert (second.status, second.action_statement) == ("affected", "Upgrade lodash to 4.17.21 in the next release.")
    assert second.timestamp == dt.datetime(2024, 4, 1, tzinfo=dt.timezone.utc)  # its own, not the document's
    assert third.status == "fixed" and third.timestamp == issued
    assert fourth.timestamp == dt.datetime(2024, 5, 3, 8, tzinfo=dt.timezone.utc)
    assert (fifth.justification, fifth.impact_statement) == ("", "curl is in the image but never run.")
    assert fifth.describe().endswith("not_affected (curl is in the image but never run.) by app.openvex.json "
                                     "statement 5")
    assert [s.suppresses for s in (first, second, third, fourth, fifth)] == [True, False, True, False, True]


def test_the_full_document_matches_the_image_it_names() -> None:
    statements = load_vex([str(DATA / "app.openvex.json")])
    target = image()
    decided = {rule: applicable(statements, vulnerability(rule, component), target)
               for rule, component in [("CVE-2024-0001", "openssl:3.0.2"), ("CVE-2024-0002", "lodash:4.17.20"),
                                       ("CVE-2024-0003", "zlib:1.2.11"), ("CVE-2024-0004", "bash:5.1"),
                                       ("CVE-2024-0005", "curl:7.68.0"), ("CVE-2024-9999", "bash:5.1")]}
    assert {rule: s.status if s else None for rule, s in decided.items()} == {
        "CVE-2024-0001": "not_affected", "CVE-2024-0002": "affected", "CVE-2024-0003": "fixed",
        "CVE-2024-0004": "under_investigation", "CVE-2024-0005": "not_affected", "CVE-2024-9999": None}
    # another package than the subcomponents, another tag, a target without an image: nothing applies
    assert applicable(statements, vulnerability("CVE-2024-0001", "curl:7.68.0"), target) is None
    assert applicable(statements, vulnerability("CVE-2024-0004", "bash:5.1"), image(APP[:-5] + "1.5.0")) is None
    host = Target(kind="host", node_id="h1", node_type="host", name="registry.example.com")
    assert applicable(statements, vulnerability("CVE-2024-0005", "curl:7.68.0"), host) is None


def test_describe_is_one_line_for_the_reports(schema: Any, tmp_path: Path) -> None:
    fixed = without(statement(vulnerability={"name": "CVE-2024-0002\nfake line"}, status="fixed"), "justification")
    path = valid(schema, document(statement(), fixed), tmp_path)
    first, second = load_vex([path])
    assert first.describe() == ("CVE-2024-0001 not_affected (vulnerable_code_not_in_execute_path) "
                                "by vex.json statement 1")
    assert second.describe() == "CVE-2024-0002\\nfake line fixed by vex.json statement 2"


def test_statements_without_products_load_but_match_nothing(schema: Any, tmp_path: Path) -> None:
    """The schema lets a statement leave its products out (to inherit them from an enclosing document); a --vex file
    has none, so such a statement names no image."""
    (alone,) = load_vex([valid(schema, document(without(statement(), "products")), tmp_path)])
    assert alone.products == ()
    assert not alone.matches(vulnerability(), image())
    (empty,) = load_vex([valid(schema, document(statement(products=[])), tmp_path)])
    assert not empty.matches(vulnerability(), image())


def test_no_files_no_statements() -> None:
    assert load_vex([]) == ()
    assert applicable((), vulnerability(), image()) is None


# Which statement decides.


def test_a_later_statement_in_another_document_supersedes_an_earlier_one(schema: Any, tmp_path: Path) -> None:
    early = valid(schema, document(without(statement(status="affected", action_statement="upgrade openssl"),
                                           "justification"), timestamp="2024-01-01T00:00:00Z"), tmp_path, "early.json")
    later = valid(schema, document(statement(), timestamp="2024-03-01T00:00:00+01:00"), tmp_path, "later.json")
    for order in ([early, later], [later, early]):
        decided = applicable(load_vex(order), vulnerability(), image())
        assert decided is not None and decided.where == "later.json statement 1" and decided.suppresses


def test_a_statements_own_timestamp_overrides_its_documents(schema: Any, tmp_path: Path) -> None:
    path = valid(schema, document(statement(timestamp="2024-07-01T00:00:00Z"),
                                  statement(status="under_investigation", justification="component_not_present",
                                            vulnerability={"name": "CVE-2024-0001", "aliases": ["x"]})),
                 tmp_path)
    later = valid(schema, document(without(statement(status="under_investigation"), "justification"),
                                   timestamp="2024-06-01T00:00:00Z"), tmp_path, "later.json")
    decided = applicable(load_vex([path, later]), vulnerability(), image())
    # statement 1 (July) is newer than later.json (June) and statement 2 (January, the document's time)
    assert decided is not None and decided.where == "vex.json statement 1"


def test_an_under_investigation_statement_can_decide_and_suppresses_nothing(schema: Any, tmp_path: Path) -> None:
    old = valid(schema, document(statement()), tmp_path, "old.json")
    new = valid(schema, document(without(statement(status="under_investigation"), "justification"),
                                 timestamp="2024-02-01T00:00:00Z"), tmp_path, "new.json")
    decided = applicable(load_vex([old, new]), vulnerability(), image())
    assert decided is not None and decided.status == "under_investigation" and not decided.suppresses


def test_on_equal_timestamps_the_one_loaded_last_wins(schema: Any, tmp_path: Path) -> None:
    first = valid(schema, document(statement()), tmp_path, "a.json")
    second = valid(schema, document(statement(status="fixed", justification="component_not_present")),
                   tmp_path, "b.json")
    decided = applicable(load_vex([first, second]), vulnerability(), image())
    assert decided is not None and decided.where == "b.json statement 1"
    decided = applicable(load_vex([second, first]), vulnerability(), image())
    assert decided is not None and decided.where == "a.json statement 1"


def test_a_newer_statement_about_another_image_supersedes_nothing(schema: Any, tmp_path: Path) -> None:
    path = valid(schema, document(
        statement(),
        without(statement(status="affected", action_statement="upgrade", timestamp="2025-01-01T00:00:00Z",
                          products=[{"@id": "registry.example.com/team/worker"}]), "justification")), tmp_path)
    decided = applicable(load_vex([path]), vulnerability(), image())
    assert decided is not None and decided.where == "vex.json statement 1"


def test_applicable_takes_statements_built_in_code() -> None:
    made = [VexStatement("CVE-2024-0001", (), load_vex([str(DATA / "app.openvex.json")])[4].products, status,
                         "", "", "", timestamp, f"made {index}")
            for index, (status, timestamp) in enumerate([("fixed", dt.datetime(2024, 1, 2)), ("affected", None)])]
    decided = applicable(made, vulnerability(), image())
    assert decided is not None and decided.where == "made 0"  # a naive time counts as UTC, none as the oldest


# Matching.

OCI = "pkg:oci/app@sha256%3A" + "1" * 64
MATCHING = [
    # product identifiers
    pytest.param({"@id": "registry.example.com/team/app"}, {}, True, id="reference-any-tag"),
    pytest.param({"@id": "registry.example.com/team/app:1.4.2"}, {}, True, id="reference-same-tag"),
    pytest.param({"@id": "registry.example.com/team/app:1.5.0"}, {}, False, id="reference-tag-differs"),
    pytest.param({"@id": f"registry.example.com/team/app@{DIGEST}"}, {}, True, id="reference-same-digest"),
    pytest.param({"@id": f"registry.example.com/team/app@{OTHER_DIGEST}"}, {}, False, id="reference-digest-differs"),
    pytest.param({"@id": f"registry.example.com/team/app@{DIGEST}"}, {"digest": None}, False,
                 id="reference-digest-unknown"),
    pytest.param({"@id": f"registry.example.com/team/app:1.4.2@{DIGEST}"}, {}, True, id="reference-tag-and-digest"),
    pytest.param({"@id": "registry.example.com/team/worker"}, {}, False, id="reference-repository-differs"),
    pytest.param({"@id": "quay.io/team/app"}, {}, False, id="reference-registry-differs"),
    pytest.param({"@id": "team/app"}, {}, False, id="reference-docker-hub-is-another-registry"),
    pytest.param({"@id": f"{OCI}?repository_url=registry.example.com/team/app&tag=1.4.2"}, {}, True, id="oci"),
    pytest.param({"@id": f"{OCI}?repository_url=registry.example.com/team/app"}, {}, True, id="oci-no-tag"),
    pytest.param({"@id": "pkg:oci/app@sha256%3A" + "2" * 64 + "?repository_url=registry.example.com/team/app"},
                 {}, False, id="oci-digest-differs"),
    pytest.param({"@id": f"{OCI}?repository_url=registry.example.com/team/app"}, {"digest": None}, False,
                 id="oci-digest-unknown"),
    pytest.param({"@id": f"{OCI}?repository_url=registry.example.com/other/app"}, {}, False,
                 id="oci-repository-differs"),
    pytest.param({"@id": f"{OCI}?repository_url=registry.example.com/team/app&tag=1.5.0"}, {}, False,
                 id="oci-tag-differs"),
    pytest.param({"@id": OCI}, {}, True, id="oci-name-and-digest"),
    pytest.param({"@id": "pkg:oci/app"}, {}, False, id="oci-bare-name-names-no-one-image"),
    pytest.param({"@id": "pkg:oci/app?tag=1.4.2"}, {}, False, id="oci-name-and-tag-names-no-one-image"),
    pytest.param({"@id": "pkg:oci/worker@sha256%3A" + "1" * 64}, {}, False, id="oci-name-differs"),
    pytest.param({"identifiers": {"purl": f"{OCI}?repository_url=registry.example.com/team/app"}}, {}, True,
                 id="oci-in-identifiers"),
    pytest.param({"@id": "pkg:docker/team/app@1.4.2?repository_url=registry.example.com"}, {}, True, id="docker"),
    pytest.param({"@id": "pkg:docker/team/app@1.5.0?repository_url=registry.example.com"}, {}, False,
                 id="docker-tag-differs"),
    pytest.param({"@id": f"pkg:docker/team/app@{DIGEST}?repository_url=registry.example.com"}, {}, True,
                 id="docker-digest"),
    pytest.param({"@id": f"pkg:docker/team/app@{OTHER_DIGEST}?repository_url=registry.example.com"}, {}, False,
                 id="docker-digest-differs"),
    pytest.param({"@id": "pkg:docker/team/app@1.4.2"}, {}, False, id="docker-default-is-docker-hub"),
    pytest.param({"@id": "pkg:docker/nginx@1.25"}, {"ref": "nginx:1.25"}, True, id="docker-hub-library"),
    pytest.param({"@id": "pkg:docker/library/nginx"}, {"ref": "docker.io/nginx:1.25"}, True, id="docker-hub-any-tag"),
    pytest.param({"@id": "index.docker.io/library/nginx:1.25"}, {"ref": "nginx:1.25"}, True,
                 id="reference-docker-hub-hosts"),
    pytest.param({"identifiers": {"cpe23": "cpe:2.3:a:example:app:1.4.2:*:*:*:*:*:*:*"}}, {}, False, id="cpe"),
    pytest.param({"@id": "https://vex.example.com/products/app"}, {}, False, id="an-iri"),
    pytest.param({"@id": "pkg:deb/debian/app@1.4.2"}, {}, False, id="a-package-is-no-image"),
    pytest.param({"@id": "registry.example.com/team/app"}, {"ref": None}, False, id="no-image-on-the-target"),
    # the vulnerability
    pytest.param({"@id": "registry.example.com/team/app"}, {"rule": "cve-2024-0001"}, True, id="id-any-case"),
    pytest.param({"@id": "registry.example.com/team/app"}, {"rule": "ghsa-aaaa-bbbb-cccc"}, True, id="alias"),
    pytest.param({"@id": "registry.example.com/team/app"}, {"rule": "https://nvd.nist.gov/vuln/detail/CVE-2024-0001"},
                 True, id="vulnerability-iri"),
    pytest.param({"@id": "registry.example.com/team/app"}, {"rule": "CVE-2024-0002"}, False, id="another-cve"),
    pytest.param({"@id": "registry.example.com/team/app"}, {"kind": "secret"}, False, id="not-a-vulnerability"),
    # subcomponents
    pytest.param({"@id": "registry.example.com/team/app", "subcomponents": [{"@id": "pkg:deb/debian/openssl@3.0.2"}]},
                 {}, True, id="subcomponent"),
    pytest.param({"@id": "registry.example.com/team/app", "subcomponents": [{"@id": "pkg:deb/debian/openssl@3.0.3"}]},
                 {}, False, id="subcomponent-version-differs"),
    pytest.param({"@id": "registry.example.com/team/app", "subcomponents": [{"@id": "pkg:deb/debian/OpenSSL"}]},
                 {}, True, id="subcomponent-any-version"),
    pytest.param({"@id": "registry.example.com/team/app",
                  "subcomponents": [{"@id": "pkg:deb/debian/zlib@1.2.11"}, {"@id": "pkg:deb/debian/openssl"}]},
                 {}, True, id="subcomponent-second"),
    pytest.param({"@id": "registry.example.com/team/app", "subcomponents": [{"@id": "pkg:deb/debian/zlib@1.2.11"}]},
                 {}, False, id="subcomponent-another-package"),
    pytest.param({"@id": "registry.example.com/team/app", "subcomponents": [
        {"identifiers": {"purl": "pkg:golang/github.com/gorilla/mux@v1.8.0"}}]},
                 {"component": "github.com/gorilla/mux:v1.8.0"}, True, id="subcomponent-go-module"),
    pytest.param({"@id": "registry.example.com/team/app", "subcomponents": [
        {"identifiers": {"cpe23": "cpe:2.3:a:openssl:openssl:3.0.2:*:*:*:*:*:*:*"}}]}, {}, False,
                 id="subcomponent-cpe-names-no-package"),
    pytest.param({"@id": "registry.example.com/team/worker",
                  "subcomponents": [{"@id": "pkg:deb/debian/openssl@3.0.2"}]}, {}, False,
                 id="subcomponent-of-another-image"),
]


@pytest.mark.parametrize(("product", "case", "expected"), MATCHING)
def test_matching(schema: Any, tmp_path: Path, product: dict[str, Any], case: dict[str, Any], expected: bool) -> None:
    vex = {"@id": "https://nvd.nist.gov/vuln/detail/CVE-2024-0001", "name": "CVE-2024-0001",
           "aliases": ["GHSA-aaaa-bbbb-cccc"]}
    (loaded,) = load_vex([valid(schema, document(statement(vulnerability=vex, products=[product])), tmp_path)])
    finding = Finding(case.get("kind", "vulnerability"), case.get("rule", "CVE-2024-0001"), Severity.HIGH,
                      case.get("component", "openssl:3.0.2"))
    ref = case.get("ref", APP)
    if ref is None:
        target = Target(kind="host", node_id="h1", node_type="host", name="registry.example.com/team/app")
    else:
        target = image(ref, case.get("digest", DIGEST))
    assert loaded.matches(finding, target) is expected
    assert (applicable([loaded], finding, target) is loaded) is expected


def test_any_matching_product_will_do(schema: Any, tmp_path: Path) -> None:
    products = [{"@id": "registry.example.com/team/worker"},
                {"@id": "registry.example.com/team/app", "subcomponents": [{"@id": "pkg:deb/debian/zlib"}]},
                {"identifiers": {"purl": "pkg:docker/team/app?repository_url=registry.example.com",
                                 "cpe23": "cpe:2.3:a:example:app:*:*:*:*:*:*:*:*"}}]
    (loaded,) = load_vex([valid(schema, document(statement(products=products)), tmp_path)])
    assert loaded.matches(vulnerability(), image())


# Bad documents: the shared schema refuses each, and so does load_vex, naming the file and the problem.


def _statements(*items: Any) -> dict[str, Any]:
    return document(statements=list(items))


BAD = [
    pytest.param(without(document(), "@context"), "the document has no '@context'; an OpenVEX document needs "
                 "@context, @id, author, timestamp, version and statements", id="no-context"),
    pytest.param(without(document(), "author"), "the document has no 'author'", id="no-author"),
    pytest.param(without(document(), "timestamp"), "the document has no 'timestamp'", id="no-timestamp"),
    pytest.param(without(document(), "statements"), "the document has no 'statements'", id="no-statements"),
    pytest.param([document()], "the document must be an object, not a list", id="document-a-list"),
    pytest.param(document(statements={"vulnerability": {"name": "CVE-1"}}), "statements must be a list, not an object",
                 id="statements-not-a-list"),
    pytest.param(document(statements=[]), "statements is empty; an OpenVEX document needs at least one statement",
                 id="statements-empty"),
    pytest.param(_statements(statement(), statement()), "statements[1] repeats statements[0]", id="repeated-statement"),
    pytest.param(document(version=0), "version must be 1 or more", id="version-zero"),
    pytest.param(document(version="1"), "version must be a whole number, not a string", id="version-a-string"),
    pytest.param(document(timestamp=20240101), "timestamp must be a string, not a number", id="timestamp-a-number"),
    pytest.param(document(signature="x"), "signature is not a field of an OpenVEX document", id="unknown-field"),
    pytest.param(_statements(statement(status="fixd")), "statements[0].status must be one of not_affected, affected",
                 id="wrong-status"),
    pytest.param(_statements(without(statement(), "status")), "statements[0] has no 'status'", id="no-status"),
    pytest.param(_statements(without(statement(), "justification")),
                 "statements[0] is not_affected without a 'justification' or an 'impact_statement'",
                 id="not-affected-without-reason"),
    pytest.param(_statements(statement(justification="not_reachable")),
                 "statements[0].justification must be one of component_not_present", id="bad-justification"),
    pytest.param(_statements(without(statement(status="affected"), "justification")),
                 "statements[0] is affected without an 'action_statement'", id="affected-without-action"),
    pytest.param(_statements(statement(severity="high")), "statements[0].severity is not a field of a statement",
                 id="unknown-statement-field"),
    pytest.param(_statements(statement(vulnerability="CVE-2024-0001")),
                 "statements[0].vulnerability must be an object, not a string", id="vulnerability-a-string"),
    pytest.param(_statements(statement(vulnerability={"description": "overflow"})),
                 "statements[0].vulnerability has no 'name'; a vulnerability needs name",
                 id="vulnerability-without-name"),
    pytest.param(_statements(statement(vulnerability={"id": "CVE-2024-0001"})),
                 "statements[0].vulnerability.id is not a field of a vulnerability", id="vulnerability-field-unknown"),
    pytest.param(_statements(statement(vulnerability={"name": "CVE-1", "aliases": [1]})),
                 "statements[0].vulnerability.aliases[0] must be a string, not a number", id="alias-a-number"),
    pytest.param(_statements(statement(vulnerability={"name": "CVE-1", "aliases": ["a", "a"]})),
                 "statements[0].vulnerability.aliases[1] repeats statements[0].vulnerability.aliases[0]",
                 id="alias-repeated"),
    pytest.param(_statements(statement(products="registry.example.com/team/app")),
                 "statements[0].products must be a list, not a string", id="products-a-string"),
    pytest.param(_statements(statement(products=[{"hashes": {"sha-256": "ab"}}])),
                 "statements[0].products[0] names no product; give it an '@id' or 'identifiers'",
                 id="product-without-id"),
    pytest.param(_statements(statement(products=[{"identifiers": {"swid": "x"}}])),
                 "statements[0].products[0].identifiers.swid is not a field of identifiers", id="unknown-identifier"),
    pytest.param(_statements(statement(products=[{"identifiers": {}}])),
                 "statements[0].products[0].identifiers is empty", id="identifiers-empty"),
    pytest.param(_statements(statement(products=[{"@id": "a", "hashes": {"sha256": "ab"}}])),
                 "statements[0].products[0].hashes.sha256 is not a field of hashes", id="unknown-hash"),
    pytest.param(_statements(statement(products=[{"@id": "a", "subcomponents": [{"@id": "b", "subcomponents": []}]}])),
                 "statements[0].products[0].subcomponents[0].subcomponents is not a field of a subcomponent",
                 id="nested-subcomponents"),
    pytest.param(_statements(statement(products=[{"@id": "a", "subcomponents": [{"hashes": {}}]}])),
                 "statements[0].products[0].subcomponents[0] names no subcomponent", id="subcomponent-without-id"),
    pytest.param(_statements(statement(products=[{"@id": "a"}, {"@id": "a"}])),
                 "statements[0].products[1] repeats statements[0].products[0]", id="product-repeated"),
    pytest.param(_statements(statement(version=True)),
                 "statements[0].version must be a whole number, not true or false", id="version-a-boolean"),
    pytest.param(_statements(statement(impact_statement=None)), "statements[0].impact_statement must be a string, "
                 "not null", id="impact-null"),
]


@pytest.mark.parametrize(("content", "message"), BAD)
def test_a_bad_document_is_refused_by_the_schema_and_by_load_vex(schema: Any, tmp_path: Path, content: Any,
                                                                  message: str) -> None:
    assert not schema.is_valid(content)
    path = write(tmp_path, content)
    with pytest.raises(ConfigError) as refused:
        load_vex([str(DATA / "app.openvex.json"), path])
    text = str(refused.value)
    assert text.startswith(f"{path} line ") and message in text, text
    assert "\n" not in text and refused.value.exit_code == ExitCode.USAGE


def test_the_line_is_that_of_the_bad_value(tmp_path: Path) -> None:
    content = document(statement(), statement(vulnerability={"name": "CVE-2024-0002"}, status="fixd"))
    path = write(tmp_path, content)
    lines = Path(path).read_text().splitlines()
    status_line = next(n for n, line in enumerate(lines, 1) if '"fixd"' in line)
    with pytest.raises(ConfigError, match=rf"^{path} line {status_line}: statements\[1\]\.status must be one of "
                                          r"not_affected, affected, fixed, under_investigation, not 'fixd'$"):
        load_vex([path])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(document(timestamp="yesterday"), "line 5: timestamp must be a date and time with a time zone",
                     id="timestamp-not-a-date"),
        pytest.param(document(timestamp="2024-01-01T00:00:00"), "timestamp must be a date and time with a time zone",
                     id="timestamp-without-zone"),
        pytest.param(document(timestamp="2024-02-30T00:00:00Z"), "not '2024-02-30T00:00:00Z'", id="no-such-day"),
        pytest.param(_statements(statement(timestamp="2024-01-01")), "statements[0].timestamp must be a date and time",
                     id="statement-timestamp-a-date"),
        pytest.param(document(**{"@context": "https://example.com/ns"}), "@context must be the OpenVEX context",
                     id="another-context"),
    ],
)
def test_what_the_schema_leaves_to_formats_is_checked_too(schema: Any, tmp_path: Path, content: Any,
                                                          message: str) -> None:
    """The schema declares these formats without enforcing them; a timestamp must still be a time to compare."""
    assert schema.is_valid(content)
    path = write(tmp_path, content)
    with pytest.raises(ConfigError) as refused:
        load_vex([path])
    assert str(refused.value).startswith(f"{path} line ") and message in str(refused.value), str(refused.value)


def test_timestamps_take_every_rfc3339_form(schema: Any, tmp_path: Path) -> None:
    forms = {"2024-01-01T00:00:00Z": dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
             "2024-01-01t01:30:00.5+01:30": dt.datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=dt.timezone.utc),
             "2023-12-31T23:59:60.123456789-00:00": dt.datetime(2023, 12, 31, 23, 59, 59, 123456,
                                                                tzinfo=dt.timezone.utc)}
    for text, expected in forms.items():
        (loaded,) = load_vex([valid(schema, document(timestamp=text), tmp_path)])
        assert loaded.timestamp == expected


# Files that are no JSON document at all.


def test_a_json_syntax_error_names_the_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "vex.json"
    path.write_text('{\n  "@context": "https://openvex.dev/ns/v0.2.0",\n  "statements": [,]\n}\n')
    with pytest.raises(ConfigError, match=rf"^{path} line 3 column 18: not valid JSON \(Expecting value\)$"):
        load_vex([str(path)])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "the file is empty; --vex takes an OpenVEX JSON document", id="empty"),
        pytest.param(b" \n\t\n", "the file is empty", id="blank"),
        pytest.param(b'{\n"author": "J\xfcrgen"}', "line 2: the VEX file is not UTF-8 (byte 0xfc)", id="latin-1"),
        pytest.param(b'{"version": ' + b"9" * 5000 + b"}", "cannot be read", id="a-number-of-5000-digits"),
        pytest.param(b'{"version": 1, "version": 2}', "the key 'version' is given twice in one object",
                     id="repeated-key"),
        pytest.param(b'{"version": NaN}', "NaN is not valid JSON", id="nan"),
        pytest.param(b"[" * 100_000, "nested too deeply", id="deep"),
    ],
)
def test_a_file_that_is_no_json_document(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "vex.json"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as refused:
        load_vex([str(path)])
    assert str(refused.value).startswith(str(path)) and message in str(refused.value), str(refused.value)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "vex.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(document()).encode())
    assert len(load_vex([str(path)])) == 1


def test_an_unreadable_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^cannot read the VEX file .*nope\.json: No such file or directory$"):
        load_vex([str(tmp_path / "nope.json")])
    with pytest.raises(ConfigError, match=r"^cannot read the VEX file .*: Is a directory$"):
        load_vex([str(tmp_path)])
