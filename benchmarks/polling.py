"""Completion lag and request economy of ci-scan's status polling, on a simulated clock.

A console whose scan takes T seconds (5 s to an hour) answers IN_PROGRESS until T, then COMPLETE. The
real Scanner and ConsoleClient poll it through an httpx transport; the clock moves only when ci-scan
sleeps, so an hour's scan takes milliseconds. For each T it reports the completion lag (from COMPLETE to
the first status reply that shows it) against the goal max(2 s, 10% of T), and status requests per 5 s
against the goal of at most 1 for scans of ten minutes or more, for the schedule ci-scan uses and for
others it could use (✗: a goal missed).

    python benchmarks/polling.py
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx

from ci_scan import scan as scan_module
from ci_scan.client import ConsoleClient
from ci_scan.kinds import SECRET
from ci_scan.scan import Scanner, ScanOptions

DURATIONS = (5.0, 7.0, 60.0, 600.0, 3600.0)
SCAN_ID = "node-1-1800000000"


@dataclass
class Clock:
    now: float = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Outcome:
    duration: float
    lag: float
    status_requests: int

    @property
    def per_5s(self) -> float:
        return self.status_requests / (self.duration + self.lag) * 5

    @property
    def lag_goal(self) -> float:
        return max(2.0, 0.1 * self.duration)


def measure(duration: float, options: ScanOptions) -> Outcome:
    clock = Clock()
    seen: list[float] = []

    def console(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/deepfence/auth/token":
            return httpx.Response(200, json={"access_token": "a.b.c", "refresh_token": "d.e.f"})
        if path.startswith("/deepfence/scan/status/"):
            status = "COMPLETE" if clock.now >= duration else "IN_PROGRESS"
            if status == "COMPLETE" and not seen:
                seen.append(clock.now)
            seen_polls.append(clock.now)
            return httpx.Response(200, json={"statuses": {SCAN_ID: {"scan_id": SCAN_ID, "status": status}}})
        if path.startswith("/deepfence/scan/results/count/"):
            return httpx.Response(200, json={"count": 0})
        if path.startswith("/deepfence/scan/results/"):
            return httpx.Response(200, content=json.dumps({"secrets": [], "severity_counts": {}}).encode())
        return httpx.Response(404, json={"message": f"no {path} here"})

    seen_polls: list[float] = []
    client = ConsoleClient("https://console.test", "api-token-123456", transport=httpx.MockTransport(console),
                           sleep=clock.sleep)
    with client:
        Scanner(client, options, lambda line: None, clock=lambda: clock.now, sleep=clock.sleep).gate_existing(
            [SCAN_ID])
    polls_until_done = [t for t in seen_polls if t <= seen[0]]
    return Outcome(duration, seen[0] - duration, len(polls_until_done))


def schedules() -> list[tuple[str, ScanOptions, bool]]:
    """(name, options, whether pauses grow by half as before rather than as ci-scan's own rule)."""
    base = ScanOptions(kind=SECRET, kinds=(SECRET,), settle_time=0, timeout=7200, heartbeat=1e9)
    return [
        (f"ci-scan: {scan_module.POLL_SHARE:.0%} of the time waited, 2 s to 15 s", base, False),
        ("before: 2 s growing by half to 15 s", base, True),
        ("every 5 s", ScanOptions(**{**base.__dict__, "poll_initial": 5.0, "poll_max": 5.0}), True),
        ("every 2 s", ScanOptions(**{**base.__dict__, "poll_initial": 2.0, "poll_max": 2.0}), True),
    ]


def main() -> None:
    print("| schedule | scan | lag | goal | status checks | per 5 s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    original = scan_module.Scanner._pause
    for name, options, grows in schedules():
        if grows:  # the old rule: each pause half again the last, to the cap
            def grow(self: Scanner, interval: float, waiting_for: str, since: float | None = None) -> float:
                return original(self, interval, waiting_for, None)
            scan_module.Scanner._pause = grow  # type: ignore[method-assign]
        try:
            for duration in DURATIONS:
                outcome = measure(duration, options)
                # The rate goal is for long scans: a short one is checked every 2 s at first, by design.
                met = "" if outcome.lag <= outcome.lag_goal and (duration < 600 or outcome.per_5s <= 1) else " ✗"
                print(f"| {name} | {duration:g} s | {outcome.lag:.1f} s | {outcome.lag_goal:g} s | "
                      f"{outcome.status_requests} | {outcome.per_5s:.2f}{met} |")
        finally:
            scan_module.Scanner._pause = original  # type: ignore[method-assign]


if __name__ == "__main__":
    main()
