"""The COMPLETE that comes before the findings (API_NOTES §5.1), the runtime SBOM, and the scenarios
that make a gate's life hard: never matched, contradictory, multi-architecture, hostile text."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from ci_scan.simulator import READONLY_TOKEN, ConsoleSimulator
from ci_scan.simulator.hostile import ANSI_STATUS_MESSAGE, HUGE_SCORE
from ci_scan.simulator.sbom import MISSING_OBJECT
from tests.contract import SpecContract
from tests.simulator.helpers import Console, fields_filter

PRIVATE = "docker_private_registry-ci-bot-1"
UNMATCHED = {"message": MISSING_OBJECT, "error_fields": None, "error_index": None}


def console_with(contract: SpecContract, **options: Any) -> Console:
    console = Console(ConsoleSimulator(**options), contract)
    console.login()
    return console


def stepping_clock() -> Callable[[], float]:
    """250 ms more on every read, so every update has its own time."""
    ticks = itertools.count()
    return lambda: 1_750_000_000 + next(ticks) * 0.25


def stored(console: Console, scan_id: str) -> int:
    return len(console.results(scan_id).json()["vulnerabilities"])


@pytest.mark.parametrize("matching_polls", [1, 2, 3])
def test_findings_take_matching_polls_to_land(contract: SpecContract, matching_polls: int) -> None:
    console = console_with(contract, matching_polls=matching_polls)
    scan_id = console.start_one("team/app", "1.4.2")
    assert console.statuses(scan_id, 4)[-1] == "COMPLETE"
    landed, answers = [stored(console, scan_id)], [console.sbom(scan_id).status_code]
    for _ in range(matching_polls):
        assert console.statuses(scan_id, 1) == ["COMPLETE"]
        landed.append(stored(console, scan_id))
        answers.append(console.sbom(scan_id).status_code)
    assert landed == [45 * batch // matching_polls for batch in range(matching_polls + 1)]
    assert answers == [500] * matching_polls + [200]


def test_matching_polls_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="matching_polls"):
        ConsoleSimulator(matching_polls=-1)


def test_the_final_complete_is_a_status_write_of_its_own(contract: SpecContract) -> None:
    console = console_with(contract, clock=stepping_clock())
    scan_id = console.start_one("team/clean", "1.0")
    infos = [console.status(scan_id).json()["statuses"][scan_id] for _ in range(7)]
    assert [info["status"] for info in infos] == ["STARTING", "IN_PROGRESS", "IN_PROGRESS"] + ["COMPLETE"] * 4
    updated = [info["updated_at"] for info in infos[3:]]
    assert updated[0] == updated[1] == updated[2] < updated[3]  # the batches alone write no status


def test_an_unfinished_match_does_not_stop_a_new_scan(console: Console) -> None:
    """COMPLETE is finished for deduplication, even while the findings are still landing."""
    node_id = console.sim.dataset.image("team/app", "1.4.2").node_id
    first = console.start(node_id).json()["scan_ids"][0]
    console.statuses(first, 4)
    assert console.start(node_id).json()["scan_ids"] != [first]


def test_slow_matching_reports_in_progress_between_the_two_completes(console: Console) -> None:
    scan_id = console.start_one("team/slow-match", "1.0")
    seen = []
    for _ in range(8):
        status = console.statuses(scan_id, 1)[0]
        seen.append((status, stored(console, scan_id), console.sbom(scan_id).status_code))
    assert seen == [
        ("STARTING", 0, 500), ("IN_PROGRESS", 0, 500), ("IN_PROGRESS", 0, 500), ("COMPLETE", 0, 500),
        ("IN_PROGRESS", 2, 500), ("IN_PROGRESS", 5, 200), ("COMPLETE", 5, 200), ("COMPLETE", 5, 200),
    ]  # fmt: skip
    again = console.start_one("team/slow-match", "1.0")
    console.statuses(again, 4)
    assert console.start(console.sim.dataset.image("team/slow-match").node_id).json()["scan_ids"] == [again]


def test_a_never_matched_image_stays_complete_and_empty(console: Console) -> None:
    scan_id = console.start_one("team/never-matched", "1.0")
    assert console.statuses(scan_id, 12)[3:] == ["COMPLETE"] * 9
    result = console.results(scan_id).json()
    assert (result["vulnerabilities"], result["severity_counts"]) == ([], {})
    assert console.results(scan_id, path="/scan/results/count/vulnerability").json()["count"] == 0
    unmatched = console.sbom(scan_id)
    assert (unmatched.status_code, unmatched.json()) == (500, UNMATCHED)
    assert console.sim.dataset.image("team/never-matched").findings()  # they exist; they never land


def test_never_matched_ignores_matching_polls(contract: SpecContract) -> None:
    console = console_with(contract, matching_polls=0)
    scan_id = console.start_one("team/never-matched", "1.0")
    assert console.statuses(scan_id, 6)[-1] == "COMPLETE"
    assert (stored(console, scan_id), console.sbom(scan_id).status_code) == (0, 500)


def test_a_contradictory_reply_lists_null_but_counts_two(console: Console) -> None:
    scan_id = console.complete("team/contradictory", "1.0")
    result = console.results(scan_id).json()
    assert (result["vulnerabilities"], result["severity_counts"]) == (None, {"critical": 2})
    assert console.results(scan_id, path="/scan/results/count/vulnerability").json()["count"] == 2
    sbom = console.sbom(scan_id).json()
    assert sorted(p["severity"] for p in sbom if p["cve_id"]) == ["critical", "critical"]


def test_a_multi_architecture_tag_is_two_image_nodes(console: Console) -> None:
    amd64, arm64 = console.sim.dataset.images("team/multiarch", "1.0")
    by_tag = fields_filter(contains_in_array_filter={"filter_in": {"docker_image_tag_list": ["team/multiarch:1.0"]}})
    stub = fields_filter({"docker_image_name": ["team/multiarch"]})
    images = console.images(PRIVATE, by_tag, stub).json()
    assert [i["node_id"] for i in images] == [amd64.node_id, arm64.node_id] and amd64.node_id != arm64.node_id
    assert {(i["docker_image_name"], i["docker_image_tag"]) for i in images} == {("team/multiarch", "1.0")}
    keyword = {"docker_image_name": ["team/multiarch"], "docker_image_tag": ["all"]}
    started = console.start(PRIVATE, node_type="registry", image_scan_filter=keyword).json()
    assert len(started["scan_ids"]) == 2
    counts = {}
    for scan_id in started["scan_ids"]:
        console.settle(scan_id)
        counts[scan_id.rsplit("-", 1)[0]] = console.results(scan_id).json()["severity_counts"]
    assert counts == {amd64.node_id: {"high": 2, "medium": 1}, arm64.node_id: {"critical": 1, "low": 2}}


def test_hostile_text_survives_json_and_the_spec(console: Console, contract: SpecContract) -> None:
    """Every reply here goes through the spec check: a 400-digit integer is a valid `type: number`."""
    scan_id = console.start_one("team/hostile", "1.0")
    assert console.status(scan_id).json()["statuses"][scan_id]["status_message"] == ANSI_STATUS_MESSAGE
    console.settle(scan_id)
    checked = contract.checked
    response = console.results(scan_id, order=[("cve_id", False)])
    assert contract.checked == checked + 1
    raw = response.content
    assert b"\\ud800" in raw and b"\\u001b[31m" in raw and b"\\n::add-mask::x" in raw
    scores = re.findall(rb'"cve_cvss_score":([-+.eE0-9]+)', raw)
    assert str(HUGE_SCORE).encode() in scores and len(str(HUGE_SCORE)) == 400  # written out, digit by digit
    findings = json.loads(raw)["vulnerabilities"]
    assert [v["cve_cvss_score"] for v in findings].count(HUGE_SCORE) == 1
    packages = {v["cve_caused_by_package"] for v in findings}
    assert {"libbroken\ud800:1.0.0", "\x1b[31mlibred\x1b[0m:1.0.0", "libquiet\n::add-mask::x:1.0.0"} <= packages
    sbom = console.sbom(scan_id).json()
    assert ("libquiet\n::add-mask::x", "1.0.0") in {(p["package_name"], p["version"]) for p in sbom}
    listed = console.post("/scan/list/vulnerability", list_body(console.sim.dataset.image("team/hostile").node_id))
    assert listed.json()["scans_info"][0]["status_message"] == ANSI_STATUS_MESSAGE


def test_the_sbom_names_each_package_once_with_its_last_cve(console: Console) -> None:
    scan_id = console.complete("team/app", "1.4.2")
    sbom = console.sbom(scan_id).json()
    findings = console.results(scan_id).json()["vulnerabilities"]
    by_node = {v["node_id"]: v for v in findings}
    last: dict[str, dict[str, Any]] = {}
    for finding in console.sim.dataset.image("team/app", "1.4.2").findings():
        last[finding["cve_caused_by_package"]] = finding
    vulnerable = [p for p in sbom if p["cve_id"]]
    assert sorted(f"{p['package_name']}:{p['version']}" for p in vulnerable) == sorted(last)
    for package in vulnerable:
        finding = last[f"{package['package_name']}:{package['version']}"]
        assert (package["cve_id"], package["severity"], package["cve_node_id"]) == (
            finding["cve_id"], finding["cve_severity"], finding["node_id"])  # fmt: skip
        assert by_node[package["cve_node_id"]]["cve_id"] == package["cve_id"]  # every CVE named is in the results
        assert package["locations"] and all(isinstance(license_, str) for license_ in package["licenses"])
    clean = [p for p in sbom if not p["cve_id"]]
    assert clean and all((p["severity"], p["cve_node_id"]) == ("", "") for p in clean)
    assert [(p["package_name"], p["version"]) for p in sbom] == sorted((p["package_name"], p["version"]) for p in sbom)


def test_a_clean_image_has_an_sbom_without_cves(console: Console) -> None:
    sbom = console.sbom(console.complete("team/clean", "1.0")).json()
    assert sbom and {p["cve_id"] for p in sbom} == {""}


def test_sbom_errors_and_permissions(console: Console) -> None:
    missing = console.sbom("nosuchscan")
    assert (missing.status_code, missing.json()["message"]) == (404, "Node nosuchscan not found")
    with console.invalid_requests():
        invalid = console.post("/scan/sbom", {})
    assert invalid.json()["error_fields"] == {"scan_id": "Field validation for 'ScanID' failed"}
    stuck = console.start_one("team/stuck", "1.0")
    console.stop(stuck)
    assert console.statuses(stuck, 3)[-1] == "CANCELLED"
    assert (console.sbom(stuck).status_code, console.sbom(stuck).json()) == (500, UNMATCHED)
    scan_id = console.complete("team/flaky", "1.0")
    console.login(READONLY_TOKEN)  # scan read is enough
    assert console.sbom(scan_id).status_code == 200


def list_body(node_id: str, **filters: Any) -> dict[str, Any]:
    return {"node_ids": [{"node_id": node_id, "node_type": "image"}], "fields_filter": fields_filter(**filters),
            "window": {"offset": 0, "size": 1}}  # fmt: skip


def test_the_latest_complete_scan_of_a_node_in_one_request(contract: SpecContract) -> None:
    console = console_with(contract, clock=stepping_clock())
    image = console.sim.dataset.image("team/app", "1.4.2")
    latest_complete = list_body(image.node_id, contains={"status": ["COMPLETE"]}, order=[("updated_at", True)])

    def listed() -> list[dict[str, Any]]:
        infos: list[dict[str, Any]] | None = console.post("/scan/list/vulnerability", latest_complete).json()[
            "scans_info"
        ]
        return infos or []

    assert listed() == []
    first = console.complete("team/app", "1.4.2")
    second = console.complete("team/app", "1.4.2")
    console.start_one("team/app", "1.4.2")  # STARTING: not listed
    [info] = listed()
    assert (info["scan_id"], info["status"], sum(info["severity_counts"].values())) == (second, "COMPLETE", 44)
    oldest_first = list_body(image.node_id, contains={"status": ["COMPLETE"]}, order=[("updated_at", False)])
    assert console.post("/scan/list/vulnerability", oldest_first).json()["scans_info"][0]["scan_id"] == first


def test_the_list_reports_an_unmatched_complete_as_the_console_does(contract: SpecContract) -> None:
    console = console_with(contract, clock=stepping_clock())
    image = console.sim.dataset.image("team/app", "1.4.2")
    settled = console.complete("team/app", "1.4.2")
    fresh = console.start_one("team/app", "1.4.2")
    console.statuses(fresh, 4)  # COMPLETE, nothing matched yet
    body = list_body(image.node_id, contains={"status": ["COMPLETE"]}, order=[("updated_at", True)])
    [info] = console.post("/scan/list/vulnerability", body).json()["scans_info"]
    assert (info["scan_id"], info["status"], info["severity_counts"]) == (fresh, "COMPLETE", {})
    body["window"] = {"offset": 1, "size": 1}
    assert console.post("/scan/list/vulnerability", body).json()["scans_info"][0]["scan_id"] == settled


def test_the_list_leaves_out_a_scan_matching_in_progress(console: Console) -> None:
    image = console.sim.dataset.image("team/slow-match")
    scan_id = console.start_one("team/slow-match", "1.0")
    console.statuses(scan_id, 4)  # the first COMPLETE; the scan now reports IN_PROGRESS again
    body = list_body(image.node_id, contains={"status": ["COMPLETE"]}, order=[("updated_at", True)])
    assert console.post("/scan/list/vulnerability", body).json()["scans_info"] is None
