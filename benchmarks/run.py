"""Benchmarks: `make bench`. Ratios are against floors measured in the same run, never absolute seconds.

- start-up: `ci-scan --version` against `python -c pass`;
- fetching 20,000 findings from the in-process simulator (21 pages of 1,000) through the real client;
- rendering each report for those 20,000 findings, against `json.dumps` of the same findings as plain dicts.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from ci_scan.client import ConsoleClient
from ci_scan.formats import FORMATS
from ci_scan.gate import Policy, evaluate
from ci_scan.models import ImageRef, ScanResult
from ci_scan.scan import Scanner, ScanOptions
from ci_scan.simulator import ADMIN_TOKEN, ConsoleSimulator

REPEATS = 3


def best_of(action: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def scan_big() -> ScanResult:
    sim = ConsoleSimulator()
    client = ConsoleClient("http://console.test", ADMIN_TOKEN, transport=httpx.WSGITransport(app=sim),
                           sleep=lambda _: None)
    scanner = Scanner(client, ScanOptions(), lambda _: None, sleep=lambda _: None)
    return scanner.scan_image(ImageRef.parse("registry.example.com/team/big:1.0"))


def main() -> None:
    bin_dir = Path(sys.executable).parent
    floor_start = best_of(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
    cli_start = best_of(lambda: subprocess.run([str(bin_dir / "ci-scan"), "--version"], check=True,
                                               capture_output=True))
    print(f"start-up: ci-scan --version {cli_start * 1000:.0f} ms = {cli_start / floor_start:.1f}x python -c pass "
          f"({floor_start * 1000:.0f} ms)")

    result = scan_big()
    fetch = best_of(scan_big)
    plain = [dataclasses.asdict(f) for f in result.findings]
    floor_json = best_of(lambda: json.dumps(plain))
    print(f"fetch 20,000 findings (simulator in-process, 21 pages): {fetch:.2f} s = "
          f"{fetch / floor_json:.0f}x json.dumps of them ({floor_json * 1000:.0f} ms)")

    decision = evaluate(result, Policy())
    for name, fmt in FORMATS.items():
        seconds = best_of(lambda fmt=fmt: fmt.render(result, decision))
        size = len(fmt.render(result, decision).encode()) / 2**20
        print(f"render {name:<5}: {seconds:.2f} s = {seconds / floor_json:.1f}x json.dumps floor, {size:.1f} MiB")
    print(f"(best of {REPEATS} runs each)")


if __name__ == "__main__":
    main()
