"""`ci-scan demo`: a real scan, over real HTTP, against the simulator on a free loopback port."""

from __future__ import annotations

import sys
from pathlib import Path

from ci_scan.app import run
from ci_scan.config import ImageScan, Settings
from ci_scan.errors import ExitCode
from ci_scan.models import ImageRef

DEMO_IMAGE = "registry.example.com/team/app:1.4.2"
_MEANING = {
    ExitCode.PASSED: "gate passed",
    ExitCode.GATE_FAILED: "gate failed: the pipeline would stop here",
    ExitCode.USAGE: "usage or configuration error",
    ExitCode.SCAN_INCOMPLETE: "the scan could not be completed",
    ExitCode.TIMED_OUT: "timed out waiting for the scan",
}


def run_demo(output_dir: str, fail_on: str = "critical") -> int:
    """Returns 0 when the demo worked, whatever the gate decided; else the scan's error code."""
    from ci_scan.simulator import ADMIN_TOKEN, ConsoleSimulator, serve

    out = Path(output_dir)
    reports = {"junit": "junit.xml", "sarif": "ci-scan.sarif", "json": "ci-scan.json"}
    with serve(ConsoleSimulator(), host="127.0.0.1", port=0) as server:
        print(f"Console simulator listening on {server.url}", file=sys.stderr)
        print(f"$ ci-scan scan image {DEMO_IMAGE} --console-url {server.url} --fail-on {fail_on} "
              f"--junit {out / reports['junit']} --sarif {out / reports['sarif']} "
              f"--json {out / reports['json']}", file=sys.stderr)
        settings = Settings.build(
            console_url=server.url,
            api_token=ADMIN_TOKEN,
            request=ImageScan((ImageRef.parse(DEMO_IMAGE),)),
            policy={"fail_on": fail_on},
            timeout="2m",
            poll_interval="0.3s",
            poll_floor=0.3,  # the simulator on this machine moves a scan a step per status check
            settle_time="1s",
            reports={name: str(out / filename) for name, filename in reports.items()},
        )
        code = run(settings)
    print(f"A pipeline running this scan would exit with code {int(code)} ({_MEANING[code]}).")
    return 0 if code in (ExitCode.PASSED, ExitCode.GATE_FAILED) else int(code)
