"""Benchmarks: `make bench`. Ratios are against floors measured in the same run, never absolute seconds.

- start-up: `ci-scan --version`, `--help` and `scan image --help` against `python -c "import click"`;
- completion lag and status checks per poll schedule, on a simulated clock (`benchmarks/polling.py`);
- fetching 20,000 findings from the in-process simulator (21 pages of 1,000) through the real client;
- requests and client time for many targets;
- end to end over loopback, 1k, 10k and 100k findings, against a stdlib client (`benchmarks/end_to_end.py`);
- every report for 10k findings, and all six together for 100k, time and memory against `json.dumps` plus an
  ElementTree of the same findings (`benchmarks/reports.py`, which also runs alone and then measures each
  format at every size: `python benchmarks/reports.py 1000 100000`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from ci_scan.client import ConsoleClient
from ci_scan.models import ImageRef, RunResult
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


def scan_big() -> RunResult:
    sim = ConsoleSimulator()
    client = ConsoleClient("http://console.test", ADMIN_TOKEN, transport=httpx.WSGITransport(app=sim),
                           sleep=lambda _: None)
    clock = SimulatedClock()
    scanner = Scanner(client, ScanOptions(), lambda _: None, clock=clock.now, sleep=clock.sleep)
    return scanner.scan_images([ImageRef.parse("registry.example.com/team/big:1.0")])


class SimulatedClock:
    """Time that moves only when the scanner sleeps, so benchmarks measure work, not waiting."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def now(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        self.seconds += seconds


def many_targets() -> None:
    """Requests and client time for 1, 10 and 100 images and a 500-image registry (no poll sleeps)."""
    from collections import Counter

    from ci_scan.simulator import default_dataset

    def measure(label: str, action: Callable[[Scanner], RunResult], sim: ConsoleSimulator) -> None:
        client = ConsoleClient("http://console.test", ADMIN_TOKEN, transport=httpx.WSGITransport(app=sim),
                               sleep=lambda _: None)
        clock = SimulatedClock()  # the console's time passes only when the client waits
        scanner = Scanner(client, ScanOptions(), lambda _: None, clock=clock.now, sleep=clock.sleep)
        started = time.perf_counter()
        result = action(scanner)
        seconds = time.perf_counter() - started
        calls = Counter(r.path.rsplit("/deepfence/", 1)[-1] for r in sim.requests)
        rounds = calls["scan/status/vulnerability"]
        print(f"{label:<22} targets {len(result.targets):>3}  requests {len(sim.requests):>5}  "
              f"start {calls['scan/start/vulnerability']}  status {rounds}  sbom {calls['scan/sbom']:>4}  "
              f"results {calls['scan/results/vulnerability']:>4}  "
              f"count {calls['scan/results/count/vulnerability']:>4}  "
              f"{seconds:.2f} s client time, {clock.seconds:.0f} s of polling pauses")

    for count in (1, 10, 100):
        sim = ConsoleSimulator(default_dataset(extra_images=count * 8))
        bulk = sim.dataset.registries[-1]
        refs = [ImageRef.parse(f"bulk.example.com/{i.repository}:latest") for i in bulk.images if "latest" in i.tags]
        chosen = refs[:count]
        measure(f"{count} image(s)", lambda scanner, chosen=chosen: scanner.scan_images(chosen), sim)
    sim = ConsoleSimulator(default_dataset(extra_images=500))
    measure("registry, 500 images", lambda scanner: scanner.scan_registry("bulk-registry", "all"), sim)


def sweep() -> None:
    """`scan all` over 100 hosts and 100 images: requests and client time (no poll sleeps)."""
    from collections import Counter

    from ci_scan.simulator import default_dataset
    from ci_scan.simulator.nodes import Host

    dataset = default_dataset(extra_images=100)
    dataset.registries = dataset.registries[-1:]  # the 100 images of `bulk-registry`, every tag
    dataset.hosts = [h for h in dataset.hosts if h.agent_running and h.registered_at_ms <= 0]
    dataset.hosts += [Host(f"fleet-{i:03d}", {"high": i % 3, "medium": 2}) for i in range(100 - len(dataset.hosts))]
    sim = ConsoleSimulator(dataset)
    client = ConsoleClient("http://console.test", ADMIN_TOKEN, transport=httpx.WSGITransport(app=sim),
                           sleep=lambda _: None)
    clock = SimulatedClock()
    scanner = Scanner(client, ScanOptions(), lambda _: None, clock=clock.now, sleep=clock.sleep)
    started = time.perf_counter()
    result = scanner.finish(scanner.start_all(("host", "image"), tags="all"))
    seconds = time.perf_counter() - started
    calls = Counter(r.path.rsplit("/deepfence/", 1)[-1] for r in sim.requests)
    hosts = sum(t.target.kind == "host" for t in result.targets)
    print(f"sweep of {hosts} hosts and {len(result.targets) - hosts} images: {len(sim.requests)} requests "
          f"(start {calls['scan/start/vulnerability']}, status {calls['scan/status/vulnerability']}, "
          f"results {calls['scan/results/vulnerability']}), {seconds:.2f} s client time, "
          f"{clock.seconds:.0f} s of polling pauses")


def spread(action: Callable[[], object], repeats: int = 9) -> tuple[float, float, float]:
    """min, median and max seconds over `repeats` runs."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    times.sort()
    return times[0], times[len(times) // 2], times[-1]


def startup() -> None:
    """The help path against Python's own start and against importing click, min/median/max of 9 runs
    after one to write the bytecode."""
    ci_scan = str(Path(sys.executable).parent / "ci-scan")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import click'": [sys.executable, "-c", "import click"],
        "ci-scan --version": [ci_scan, "--version"],
        "ci-scan --help": [ci_scan, "--help"],
        "ci-scan scan image --help": [ci_scan, "scan", "image", "--help"],
    }
    # As an installed command starts: with its bytecode written once and then read (a shell may have set
    # PYTHONDONTWRITEBYTECODE, which would make every start compile ci-scan's modules again).
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    for argv in commands.values():
        subprocess.run(argv, check=True, capture_output=True, env=env)
    measured = {name: spread(lambda argv=argv: subprocess.run(argv, check=True, capture_output=True, env=env))
                for name, argv in commands.items()}
    importtime(ci_scan, env)
    click_median = measured["python -c 'import click'"][1]
    print("| start-up | min | median | max | median / import click |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (low, mid, high) in measured.items():
        print(f"| {name} | {low * 1000:.0f} ms | {mid * 1000:.0f} ms | {high * 1000:.0f} ms | "
              f"{mid / click_median:.2f}x |")


_SECTION = {"title": "", "began": 0.0}


def section(title: str) -> None:
    """A heading; the section before it says how long it took."""
    if _SECTION["title"]:
        print(f"\n({_SECTION['title']}: {time.perf_counter() - float(_SECTION['began']):.0f} s)")
    _SECTION.update(title=title, began=time.perf_counter())
    if title:
        print(f"\n## {title}\n", flush=True)


HEAVY = ("httpx", "ci_scan.client", "ci_scan.decision", "ci_scan.formats.", "cyclonedx", "sarif_om", "junit_xml",
         "jsonschema", "yaml", "hashlib", "ssl")
"""What the help path must not import: the console client, the gate's model, the renderers and their libraries."""


def importtime(ci_scan: str, env: dict[str, str] | None = None) -> None:
    """`python -X importtime` of `ci-scan --help`: the slowest imports, and any heavy one that crept in."""
    stderr = subprocess.run([sys.executable, "-X", "importtime", ci_scan, "--help"], check=True,
                            capture_output=True, text=True, env=env).stderr
    rows = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
            rows.append((int(cumulative), name.strip()))
    top = [f"{name} {micros / 1000:.1f} ms" for micros, name in sorted(rows, reverse=True)
           if not name.startswith(("encodings", "_"))][:6]
    heavy = sorted({name for _, name in rows if name.startswith(HEAVY)})
    print(f"ci-scan --help imports {len(rows)} modules; slowest (cumulative): {', '.join(top)}")
    print(f"heavy modules on the help path: {', '.join(heavy) or 'none'}\n")


def main() -> None:
    began = time.perf_counter()
    section("Start-up")
    startup()
    from polling import main as polling  # completion lag and status checks per schedule, simulated clock

    section("Completion lag and status checks (simulated clock)")
    polling()

    section("Fetching (in-process simulator)")
    run = scan_big()
    fetch = best_of(scan_big)
    plain = [dataclasses.asdict(f) for target in run.targets for f in target.findings]
    floor_json = best_of(lambda: json.dumps(plain))
    print(f"fetch 20,000 findings (simulator in-process, 21 pages): {fetch:.2f} s = "
          f"{fetch / floor_json:.0f}x json.dumps of them ({floor_json * 1000:.0f} ms)")

    section("Many targets")
    many_targets()
    sweep()
    from end_to_end import main as end_to_end  # 1k, 10k and 100k findings over loopback against a stdlib client

    section("End to end over loopback")
    end_to_end()
    from reports import report  # every format at 1k, 10k and 100k findings, each in a process of its own

    section("Reports")
    report(run, sizes=(10_000, 100_000), each_format_up_to=10_000)  # 1k: see the end-to-end tables
    section("")
    print(f"\nmake bench took {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
