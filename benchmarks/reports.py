"""Rendering every report for 1k, 10k and 100k findings: time and memory against a floor of the same run.

The floor is the same findings as plain dicts serialised with `json.dumps` plus an ElementTree document
of one element per finding, both made from dicts built beforehand (as the reports' decision is). Each
measurement runs in a process of its own (`python benchmarks/reports.py --one PATH NAME`): the run is
loaded and decided, then rendered once (paying the import of the report's library, as a run does:
CycloneDX's is imported on first use); the memory is the growth of the process's peak RSS while
rendering (reset to the loaded run's RSS first). `all` renders the six reports one after the other in
one process, as a run does: the decision's per-finding work (dispositions, reasons) and the cleaned
console text are then shared. Each report is also read back and written again by json.dumps (or
ElementTree): the floor of writing what that report holds.

The findings are the sample console's 20,000-finding scan (`team/big`), fetched once through the real
client; past 20,000 the scan is repeated with other package versions, so rules repeat as in big images.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from ci_scan.cli import GC_THRESHOLDS
from ci_scan.decision import Policy, decide
from ci_scan.formats import REPORTS
from ci_scan.models import RunResult

SIZES = (1_000, 10_000, 100_000)
FLOOR = "floor"
ALL = "all"


def scaled(run: RunResult, size: int) -> RunResult:
    """`run` with exactly `size` findings: its first ones, or it repeated with other package versions."""
    target = run.targets[0]
    findings = list(target.findings)
    copies, repeat = list(findings[:size]), 1
    while len(copies) < size:
        repeat += 1
        copies += [dataclasses.replace(f, component=f"{f.component}+r{repeat}",
                                       result_id=f"{f.result_id}-r{repeat}") for f in findings[: size - len(copies)]]
    return dataclasses.replace(run, targets=(dataclasses.replace(target, findings=tuple(copies)),))


def element_tree(plain: list[dict[str, object]]) -> str:
    root = ET.Element("findings")
    for finding in plain:
        ET.SubElement(root, "finding", {k: str(v) for k, v in finding.items() if isinstance(v, str)})
    return ET.tostring(root, encoding="unicode")


def _status_mib(field: str) -> float | None:
    """`VmRSS` or `VmHWM` (the peak) of this process, from Linux's /proc; None elsewhere."""
    try:
        line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field))
    except (OSError, StopIteration):
        return None
    return int(line.split()[1]) / 1024


def _start_peak() -> float | None:
    """The RSS now, with the peak reset to it (loading the run peaked higher than most renders do);
    None where Linux's /proc does not allow it, and memory is then not measured."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    return _status_mib("VmRSS")


def _peak_mib() -> float:
    return _status_mib("VmHWM") or 0.0


def measure_one(path: Path, name: str) -> dict[str, float]:
    """In this process: render `name` (a format, `all` of them, or the floor) for the pickled run at
    `path`; seconds, and MiB of peak RSS grown while rendering."""
    gc.set_threshold(*GC_THRESHOLDS)  # as `ci-scan` itself runs (the floor too)
    run: RunResult = pickle.loads(path.read_bytes())
    action: Callable[[], object]
    if name == FLOOR:
        plain = [dataclasses.asdict(f) for t in run.targets for f in t.findings]

        def action() -> object:
            return json.dumps(plain), element_tree(plain)
    else:
        specs = REPORTS if name == ALL else [spec for spec in REPORTS if spec.name == name]
        formats = [spec.load() for spec in specs]
        decision = decide(run, Policy())  # the decision is made before any report, as in a run

        def action() -> object:
            return [fmt.render(decision) for fmt in formats]
    gc.collect()
    loaded = _start_peak()
    started = time.perf_counter()
    texts = action()
    seconds = time.perf_counter() - started
    # What the render added to the peak: memory freed after loading and still resident is reused by it
    # first, so this is the growth beyond what the process already held, not everything it allocated.
    mib = _peak_mib() - loaded if loaded is not None else float("nan")
    own = sum(writing_time(text) for text in texts) if isinstance(texts, list) else seconds
    return {"seconds": seconds, "mib": mib, "own": own}


def writing_time(text: str) -> float:
    """How long json.dumps (or ElementTree) takes to write the report's own document, read back from
    `text`: the floor of writing what that report holds, whatever made it. 0 for Markdown (plain text)."""
    if text.startswith("<"):
        document: object = ET.fromstring(text.encode("utf-8"))
        started = time.perf_counter()
        ET.tostring(document, encoding="unicode")  # type: ignore[arg-type]
        return time.perf_counter() - started
    try:
        document = json.loads(text)
    except ValueError:
        return 0.0
    started = time.perf_counter()
    json.dumps(document, ensure_ascii=False)
    return time.perf_counter() - started


def measure(path: Path, name: str, repeats: int) -> dict[str, float]:
    """The median of `repeats` runs, each in a fresh process."""
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, __file__, "--one", str(path), name], check=True,
                             capture_output=True, text=True).stdout
        runs.append(json.loads(out))
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


BIG = 100_000
"""From this size on, each figure is one process, not the median of several."""


def report(run: RunResult, sizes: tuple[int, ...] = SIZES, repeats: int = 3, big_repeats: int = 1,
           each_format_up_to: int | None = None) -> None:
    """The table. Past `each_format_up_to` findings only the floor and all six together are measured
    (`make bench` within 5 minutes: a process per format at 100,000 takes two minutes)."""
    print("| findings | report | time | / floor | its own document written | time / that | peak RSS grown | / floor "
          "| per finding |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            path = Path(folder) / f"run-{size}.pickle"
            path.write_bytes(pickle.dumps(scaled(run, size)))
            processes = big_repeats if size >= BIG else repeats  # `make bench` within 5 minutes
            floor = measure(path, FLOOR, processes)
            print(f"| {size:,} | floor (json.dumps + ElementTree), median of {processes} | {floor['seconds']:.2f} s | "
                  f"1.0x | | | {floor['mib']:.0f} MiB | 1.0x | {floor['mib'] * 1024 / size:.1f} KiB |")
            names = [spec.name for spec in REPORTS] if each_format_up_to is None or size <= each_format_up_to else []
            for name in (*names, ALL):
                got = measure(path, name, processes)
                label = "all six, one process" if name == ALL else name
                own = (f"{got['own']:.2f} s ({got['own'] / floor['seconds']:.1f}x) | "
                       f"{got['seconds'] / got['own']:.1f}x") if got["own"] > 0 else "- | -"
                print(f"| {size:,} | {label} | {got['seconds']:.2f} s | {got['seconds'] / floor['seconds']:.1f}x | "
                      f"{own} | {got['mib']:.0f} MiB | {got['mib'] / max(floor['mib'], 1):.1f}x | "
                      f"{got['mib'] * 1024 / size:.1f} KiB |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure_one(Path(sys.argv[2]), sys.argv[3])))
    else:
        sys.path.insert(0, str(Path(__file__).parent))
        from run import scan_big

        arguments = sys.argv[1:]
        repeats = 3
        if arguments[:1] == ["--repeats"]:
            repeats, arguments = int(arguments[1]), arguments[2:]
        report(scan_big(), tuple(int(n) for n in arguments) or SIZES, repeats, repeats)
