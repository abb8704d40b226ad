"""End to end: the installed `ci-scan` against a stdlib client doing the same conversation.

The simulator serves over real HTTP on 127.0.0.1 (in this process, so its own work is not counted).
`ci-scan scan image registry.example.com/team/big:1.0` writes every report; the floor is a client of
urllib and json (this file, run with `--floor`) that authenticates, finds the image, starts its scan,
polls it at the same pace, fetches the SBOM, the count and every page of findings, and writes them as
`json.dumps` plus an ElementTree document. ci-scan runs twice: with its JSON report only (the client's
own cost), and with all six reports. Each run is its own process; its CPU time and peak RSS come from
`os.wait4`. Images of 1,000, 10,000 and 100,000 findings are added to the sample console; each row
gives the median, with the minimum and maximum, of 3 runs (1 at 100,000, to keep `make bench` short).

    python benchmarks/end_to_end.py [FINDINGS ...]
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

IMAGE = "registry.example.com/team/big:1.0"
POLL = 0.1
SIZES = {1_000: 3, 10_000: 3, 100_000: 1}
"""Findings in the scanned image -> runs per row."""
_BIG = {"critical": 250, "high": 2400, "medium": 8000, "low": 6500, "unknown": 2750}
"""The severities of `team/big`'s 20,000 findings, scaled for the other sizes."""


def _call(url: str, path: str, body: Any, token: str = "", method: str = "POST") -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError as error:
        if error.code == 500 and path == "/deepfence/scan/sbom":
            return None
        raise


def _filters(contains: dict[str, list[Any]] | None = None, order: list[str] | None = None) -> dict[str, Any]:
    return {"contains_filter": {"filter_in": contains or {}}, "match_filter": {"filter_in": {}},
            "order_filter": {"order_fields": [{"field_name": f, "descending": False} for f in order or []]},
            "compare_filter": None}


GC_THRESHOLDS = (20_000, 50, 10)
"""`ci_scan.cli.GC_THRESHOLDS`, which ci-scan runs with: the floor gets the same (a test holds them equal)."""


def floor_client(url: str, api_token: str, out: Path, image: str = IMAGE) -> None:
    """The same conversation with the standard library, and the findings written twice."""
    gc.set_threshold(*GC_THRESHOLDS)
    repository, _, tag = image.removeprefix("registry.example.com/").rpartition(":")
    token = _call(url, "/deepfence/auth/token", {"api_token": api_token})["access_token"]
    registry = next(r for r in _call(url, "/deepfence/registryaccount", None, token, "GET")
                    if r["name"] == "example-registry")
    images = _call(url, "/deepfence/registryaccount/images", {
        "registry_id": registry["node_id"], "image_filter": _filters(order=["node_id"]),
        "image_stub_filter": _filters({"docker_image_name": [repository]}), "window": {"offset": 0, "size": 100}},
        token)
    node = next(i for i in images if f"{repository}:{tag}" in (i.get("docker_image_tag_list") or []))["node_id"]
    scan_filters = {name: {"filter_in": None} for name in (
        "cloud_account_scan_filter", "container_scan_filter", "host_scan_filter", "image_scan_filter",
        "kubernetes_cluster_scan_filter")}
    started = _call(url, "/deepfence/scan/start/vulnerability", {
        "node_ids": [{"node_id": node, "node_type": "image"}], "filters": scan_filters,
        "scan_config": [{"language": "base"}], "is_priority": False, "deepfence_system_scan": False}, token)
    scan_id = started["scan_ids"][0]
    while True:
        statuses = _call(url, "/deepfence/scan/status/vulnerability",
                         {"scan_ids": [], "bulk_scan_id": started["bulk_scan_id"]}, token)["statuses"]
        if statuses[scan_id]["status"] == "COMPLETE" and _call(url, "/deepfence/scan/sbom",
                                                               {"scan_id": scan_id}, token) is not None:
            break
        time.sleep(POLL)
    _call(url, "/deepfence/scan/results/count/vulnerability",
          {"scan_id": scan_id, "fields_filter": _filters(), "window": {"offset": 0, "size": 0}}, token)
    findings: list[dict[str, Any]] = []
    while True:
        page = _call(url, "/deepfence/scan/results/vulnerability", {
            "scan_id": scan_id, "fields_filter": _filters(order=["cve_id", "cve_caused_by_package"]),
            "window": {"offset": len(findings), "size": 1000}}, token)["vulnerabilities"] or []
        findings += page
        if len(page) < 1000:
            break
    (out / "findings.json").write_text(json.dumps(findings))
    root = ET.Element("findings")
    for finding in findings:
        ET.SubElement(root, "finding", {k: str(v) for k, v in finding.items() if isinstance(v, (str, int, float))})
    ET.ElementTree(root).write(out / "findings.xml")


_LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
print(json.dumps([time.perf_counter() - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                  os.waitstatus_to_exitcode(status)]))
"""
"""Runs a command and prints its wall and CPU seconds, peak RSS (MiB) and exit code as JSON."""


def _measured(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds, peak RSS in MiB and exit code of one process.

    The process is started by a small launcher (`_LAUNCHER`), not by this one: Linux counts in a
    child's peak RSS the memory of the process it was forked from, and this one holds the simulator's
    100,000 findings. So every row's peak is at least the launcher's own (about 10 MiB).
    """
    out = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *argv], env=env, cwd=cwd, check=True,
                         capture_output=True, text=True).stdout
    wall, cpu, rss, code = json.loads(out)
    return wall, cpu, rss, int(code)


def bench_image(size: int) -> str:
    return f"registry.example.com/team/bench-{size}:1.0"


def bench_simulator(sizes: tuple[int, ...]) -> Any:
    """The sample console with an image of each size's findings."""
    from ci_scan.simulator import ConsoleSimulator, default_dataset
    from ci_scan.simulator.data import Image

    dataset = default_dataset()
    registry = dataset.registries[0]
    last = max(image.pushed_at for image in registry.images)
    for number, size in enumerate(sizes, 1):
        counts = {severity: round(n * size / 20_000) for severity, n in _BIG.items()}
        counts["unknown"] += size - sum(counts.values())
        digest = "sha256:" + hashlib.sha256(f"bench-{size}".encode()).hexdigest()
        image = Image(f"team/bench-{size}", ["1.0"], counts, pushed_at=last + number * 60_000, digest=digest)
        # Made before the run, and once per size: generating 100,000 findings takes the simulator seconds.
        image._findings = _GENERATED.get(size) or _GENERATED.setdefault(size, image.findings())
        registry.images.append(image)
    return ConsoleSimulator(dataset, matching_polls=0)


_GENERATED: dict[int, list[dict[str, Any]]] = {}
"""The findings of each size's image, as the simulator generated them (the runs only read them)."""


def table(repeats: int, image: str, make_simulator: Any = None, *, json_only: bool = True) -> None:
    """One table: the stdlib client, ci-scan with the JSON report (unless not `json_only`), ci-scan with
    every report."""
    from ci_scan.simulator import ADMIN_TOKEN, ConsoleSimulator, serve

    ci_scan = str(Path(sys.executable).parent / "ci-scan")
    reports = {"ci-scan, the JSON report": ["--json", "r.json"],
               "ci-scan, every report": ["--junit", "r.xml", "--sarif", "r.sarif", "--json", "r.json",
                                         "--gitlab-report", "gl.json", "--sbom", "sbom.json", "--markdown", "r.md"]}
    if not json_only:
        del reports["ci-scan, the JSON report"]
    rows: dict[str, list[tuple[float, float, float, int]]] = {"stdlib client": [], **{name: [] for name in reports}}
    for _ in range(repeats):
        for name in rows:
            simulator = make_simulator() if make_simulator else ConsoleSimulator(matching_polls=0)
            with serve(simulator) as server, tempfile.TemporaryDirectory() as folder:
                env = {**os.environ, "DEEPFENCE_CONSOLE_URL": server.url, "DEEPFENCE_API_TOKEN": ADMIN_TOKEN,
                       "CI_SCAN_POLL_INTERVAL": f"{POLL}s", "CI_SCAN_SIMULATOR_POLL_FLOOR": str(POLL),
                       "CI_SCAN_SETTLE_TIME": "0"}
                if name == "stdlib client":
                    argv = [sys.executable, __file__, "--floor", server.url, ADMIN_TOKEN, folder, image]
                else:
                    argv = [ci_scan, "scan", "image", image, *reports[name]]
                rows[name].append(_measured(argv, env, Path(folder)))
    print(f"| {image}, median (min–max) of {repeats} | wall | CPU | peak RSS | exit |")
    print("| --- | ---: | ---: | ---: | ---: |")
    floor = [statistics.median(run[i] for run in rows["stdlib client"]) for i in range(3)]
    for name, runs in rows.items():
        cells = []
        for i, unit in enumerate(("s", "s", "MiB")):
            values = sorted(run[i] for run in runs)
            middle = statistics.median(values)
            low_high = f", {values[0]:.{1 if unit == 's' else 0}f}–{values[-1]:.{1 if unit == 's' else 0}f}" \
                if len(values) > 1 else ""
            number = f"{middle:.2f} s" if unit == "s" else f"{middle:.0f} MiB"
            cells.append(f"{number} ({middle / floor[i]:.1f}×{low_high})")
        codes = sorted({run[3] for run in runs})
        print(f"| {name} | {' | '.join(cells)} | {', '.join(map(str, codes))} |")


def main(sizes: dict[int, int] | None = None) -> None:
    chosen = sizes or SIZES
    for size, repeats in chosen.items():
        # At 100,000 findings the JSON report alone adds 25 s to `make bench`; 1k and 10k show the client's
        # own cost (`python benchmarks/end_to_end.py 100000` has the row).
        table(repeats, bench_image(size), lambda: bench_simulator(tuple(chosen)),
              json_only=sizes is not None or size < 100_000)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--floor"]:
        floor_client(sys.argv[2], sys.argv[3], Path(sys.argv[4]), sys.argv[5])
    else:
        main({int(n): SIZES.get(int(n), 3) for n in sys.argv[1:]} or None)
