"""Vulnerability results: masking, filters, ordering, paging, counts and the 20,000-finding image."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from ci_scan.simulator import ConsoleSimulator
from tests.contract import SpecContract
from tests.simulator.helpers import Console

RANK = {"critical": 3, "high": 2, "medium": 1, "low": 0, "unknown": -1}
DEMO_COUNTS = {"critical": 3, "high": 9, "medium": 15, "low": 11, "unknown": 6}
COUNT = "/scan/results/count/vulnerability"


def vulns(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["vulnerabilities"]
    return found


@pytest.fixture
def demo(console: Console) -> str:
    """A COMPLETE scan of the demo image team/app:1.4.2."""
    return console.complete("team/app", "1.4.2")


def test_masked_findings_are_listed_but_not_counted(console: Console, demo: str) -> None:
    result = console.results(demo).json()
    assert len(result["vulnerabilities"]) == 45
    masked = [v for v in result["vulnerabilities"] if v["masked"]]
    assert [v["cve_severity"] for v in masked] == ["critical"]
    assert result["severity_counts"] == DEMO_COUNTS
    assert (result["scan_id"], result["node_type"], result["docker_image_name"]) == (
        demo,
        "container_image",
        "team/app",
    )
    unmasked = vulns(console.results(demo, {"masked": [False]}))
    assert len(unmasked) == 44 and not any(v["masked"] for v in unmasked)


def test_the_older_tag_only_has_masked_criticals_and_highs(console: Console) -> None:
    scan_id = console.complete("team/app", "1.4.1")
    result = console.results(scan_id).json()
    assert result["severity_counts"] == {"medium": 12, "low": 10, "unknown": 4}
    masked = sorted(v["cve_severity"] for v in result["vulnerabilities"] if v["masked"])
    assert masked == ["critical", "critical", "high"]


def test_filters_narrow_both_the_list_and_the_counts(console: Console, demo: str) -> None:
    critical = console.results(demo, {"cve_severity": ["critical"]}).json()
    assert len(critical["vulnerabilities"]) == 4 and critical["severity_counts"] == {"critical": 3}
    severe = console.results(demo, {"cve_severity": ["critical", "high"], "masked": [False]}).json()
    assert len(severe["vulnerabilities"]) == 12 and severe["severity_counts"] == {"critical": 3, "high": 9}
    not_base = vulns(console.results(demo, not_contains_filter={"filter_in": {"cve_type": ["base"]}}))
    assert not_base and all(v["cve_type"] != "base" for v in not_base)
    scored = vulns(console.results(demo, compare_filter=[
        {"field_name": "cve_cvss_score", "field_value": 8.9, "greater_than": True}]))  # fmt: skip
    assert scored and all(v["cve_cvss_score"] > 8.9 for v in scored)
    libs = vulns(console.results(demo, match_filter={"filter_in": {"cve_caused_by_package": ["^lib"]}}))
    assert libs and all(v["cve_caused_by_package"].startswith("lib") for v in libs)
    assert vulns(console.results(demo, {"masked": [0]})) == []  # no bool/int confusion


def test_order_fields_rank_severities_and_break_ties_by_cve_id(console: Console, demo: str) -> None:
    ordered = vulns(console.results(demo, order=[("cve_severity", True)]))
    keys = [(-RANK[v["cve_severity"]], v["cve_id"]) for v in ordered]
    assert keys == sorted(keys) and len(keys) == 45
    ascending = vulns(console.results(demo, order=[("cve_severity", False)]))
    assert ascending[0]["cve_severity"] == "unknown" and ascending[-1]["cve_severity"] == "critical"
    by_score = vulns(console.results(demo, order=[("cve_cvss_score", True), ("cve_id", False)]))
    assert [(-v["cve_cvss_score"], v["cve_id"]) for v in by_score] == sorted(
        (-v["cve_cvss_score"], v["cve_id"]) for v in by_score
    )
    limited = {"order_fields": [{"field_name": "cve_severity", "descending": True, "size": 5}]}
    assert len(vulns(console.results(demo, order_filter=limited))) == 5


def test_without_an_order_field_every_request_gets_another_order(console: Console, demo: str) -> None:
    orders = [[v["node_id"] for v in vulns(console.results(demo))] for _ in range(3)]
    assert len({tuple(order) for order in orders}) == 3
    assert len({frozenset(order) for order in orders}) == 1


def test_the_shuffle_is_seeded(contract: SpecContract) -> None:
    def first_unordered_page(seed: int) -> list[str]:
        console = Console(ConsoleSimulator(seed=seed), contract)
        console.login()
        scan_id = console.complete("team/app", "1.4.2")
        return [v["node_id"] for v in vulns(console.results(scan_id, window=(0, 10)))]

    assert first_unordered_page(1) == first_unordered_page(1) != first_unordered_page(2)


def test_ordered_pages_join_up_and_counts_are_the_same_on_every_page(console: Console, demo: str) -> None:
    order = [("cve_severity", True)]
    everything = vulns(console.results(demo, order=order))
    pages = [console.results(demo, order=order, window=(offset, 10)).json() for offset in range(0, 50, 10)]
    assert [len(page["vulnerabilities"]) for page in pages] == [10, 10, 10, 10, 5]
    assert [v for page in pages for v in page["vulnerabilities"]] == everything
    assert all(page["severity_counts"] == DEMO_COUNTS for page in pages)


def test_the_count_endpoint_counts_after_the_window(console: Console, demo: str) -> None:
    def count(window: tuple[int, int], **filters: Any) -> Any:
        return console.results(demo, window=window, path=COUNT, **filters).json()

    assert count((0, 0)) == {"count": 45, "categories": None}
    assert [count((0, 10))["count"], count((40, 10))["count"], count((50, 10))["count"]] == [10, 5, 0]
    assert console.results(demo, {"cve_severity": ["critical"]}, path=COUNT).json()["count"] == 4


def test_findings_land_in_batches_after_the_first_complete(console: Console) -> None:
    scan_id = console.start_one("team/app", "1.4.2")
    half = Counter(f["cve_severity"] for f in console.sim.dataset.image("team/app", "1.4.2").findings()[:22]
                   if not f["masked"])  # fmt: skip
    seen = []
    for _ in range(7):
        status = console.statuses(scan_id, 1)[0]
        result = console.results(scan_id).json()  # what is stored once that poll has been answered
        seen.append((status, len(result["vulnerabilities"]), result["severity_counts"]))
    assert seen == [
        ("STARTING", 0, {}),
        ("IN_PROGRESS", 0, {}),
        ("IN_PROGRESS", 0, {}),
        ("COMPLETE", 0, {}),  # the SBOM is built; matching has not started
        ("COMPLETE", 22, dict(half)),  # counts of what has landed, since the scan shows COMPLETE
        ("COMPLETE", 45, DEMO_COUNTS),
        ("COMPLETE", 45, DEMO_COUNTS),
    ]


def test_without_matching_polls_everything_is_there_at_the_first_complete(contract: SpecContract) -> None:
    console = Console(ConsoleSimulator(matching_polls=0), contract)
    console.login()
    scan_id = console.start_one("team/app", "1.4.2")
    starting = console.results(scan_id).json()
    assert (starting["vulnerabilities"], starting["severity_counts"]) == ([], {})
    console.statuses(scan_id, 2)  # now IN_PROGRESS
    running = console.results(scan_id).json()
    assert 0 < len(running["vulnerabilities"]) < 45 and running["severity_counts"] == {}
    assert console.sbom(scan_id).status_code == 500
    assert console.statuses(scan_id, 2) == ["IN_PROGRESS", "COMPLETE"]
    assert console.results(scan_id).json()["severity_counts"] == DEMO_COUNTS
    assert console.sbom(scan_id).status_code == 200


def test_results_errors(console: Console) -> None:
    missing = console.results("nosuchscan")
    assert (missing.status_code, missing.json()["message"]) == (404, "Node nosuchscan not found")
    with console.invalid_requests():
        assert console.post("/scan/results/vulnerability", {"scan_id": "", "window": {}}).status_code == 400
        bad_regex = console.results(
            console.start_one("team/clean", "1.0"), match_filter={"filter_in": {"cve_id": ["("]}}
        )
    assert bad_regex.status_code == 500


def test_findings_look_like_the_console_s(console: Console, demo: str) -> None:
    for v in vulns(console.results(demo)):
        assert re.fullmatch(r"CVE-\d{4}-\d{4,5}|GHSA(-[2-9cfghjmpqrvwx]{4}){3}", v["cve_id"])
        assert v["cve_link"].endswith(v["cve_id"]) and v["cve_link"] in v["urls"]
        assert re.fullmatch(r"[^:]+:.+", v["cve_caused_by_package"])
        # scores are the CVSS exploitability sub-score, with the console's fallback when it is 0
        assert 0 <= v["cve_overall_score"] <= 3.9
        fallback = {"critical": 9.0, "high": 7.0, "medium": 5.0, "low": 2.0, "unknown": 0.0}[v["cve_severity"]]
        assert v["cve_cvss_score"] == (v["cve_overall_score"] or fallback)
        assert (v["cve_type"] == "base") == (v["cve_caused_by_package_path"] == "")
        assert v["node_id"] == f"{v['cve_caused_by_package_path']}-{v['cve_caused_by_package']}-{v['cve_id']}"
        assert v["parsed_attack_vector"] in ("network", "local", "")


def test_twenty_thousand_findings_page_by_a_thousand(console: Console) -> None:
    scan_id = console.complete("team/big", "1.0")
    seen: set[str] = set()
    masked = critical = 0
    for offset in range(0, 21_000, 1_000):
        if offset:  # one page through the contract is enough; validating them all would take seconds
            with console.off_spec():
                page = console.results(scan_id, order=[("cve_id", False)], window=(offset, 1_000)).json()
        else:
            page = console.results(scan_id, order=[("cve_id", False)], window=(offset, 1_000)).json()
        seen.update(v["node_id"] for v in page["vulnerabilities"])
        masked += sum(v["masked"] for v in page["vulnerabilities"])
        critical += sum(v["cve_severity"] == "critical" and not v["masked"] for v in page["vulnerabilities"])
        if len(page["vulnerabilities"]) < 1_000:
            break
    assert (len(seen), masked, critical) == (20_000, 100, 250)
    assert page["severity_counts"]["critical"] == 250
