"""Re-record the cassettes: `python -m tests.cassettes.record` (from the project root).

Each cassette is the full wire conversation of one `ci-scan scan image` run against the simulator
over real HTTP. Secrets are replaced before anything is written: the API token in the request body,
the bearer headers, and the access and refresh tokens the console hands out.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import vcr

from ci_scan.app import run
from ci_scan.config import ImageScan, Settings
from ci_scan.errors import ExitCode
from ci_scan.models import ImageRef
from ci_scan.simulator import ADMIN_TOKEN, ConsoleSimulator, serve

HERE = Path(__file__).parent
PLACEHOLDER_API_TOKEN = "API-TOKEN-REDACTED"
REG = "registry.example.com/team"
CASES = {
    "passing_scan": ((f"{REG}/app:1.4.1",), "high", ExitCode.PASSED),
    "failing_scan": ((f"{REG}/app:1.4.2",), "critical", ExitCode.GATE_FAILED),
    "three_images": ((f"{REG}/app:1.4.1", f"{REG}/clean:1.0", f"{REG}/broken:1.0"), "high", ExitCode.SCAN_INCOMPLETE),
}


def request_for(images: tuple[str, ...]) -> ImageScan:
    return ImageScan(tuple(ImageRef.parse(image) for image in images))


def _scrub_request(request: Any) -> Any:
    if request.path.endswith("/deepfence/auth/token") and request.body:
        request.body = json.dumps({"api_token": PLACEHOLDER_API_TOKEN}).encode()
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response["body"]["string"]
    try:
        data = json.loads(body)
    except (ValueError, TypeError):
        return response
    if isinstance(data, dict) and "access_token" in data:
        data = {"access_token": "ACCESS-TOKEN-REDACTED", "refresh_token": "REFRESH-TOKEN-REDACTED"}
        response["body"]["string"] = json.dumps(data).encode()
    return response


def recorder() -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(HERE),
        filter_headers=[("authorization", "Bearer TOKEN-REDACTED")],
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
        match_on=["method", "path"],
        decode_compressed_response=True,
    )


def record() -> None:
    for name, (images, fail_on, expected) in CASES.items():
        path = HERE / f"{name}.yaml"
        path.unlink(missing_ok=True)
        with serve(ConsoleSimulator(), host="127.0.0.1", port=0) as server:
            settings = Settings.build(console_url=server.url, api_token=ADMIN_TOKEN, request=request_for(images),
                                      policy={"fail_on": fail_on}, poll_interval="0.05s", max_parallel=1,
                                      settle_time="0")  # settling depends on time: tested in-process
            with recorder().use_cassette(path.name, record_mode="all"):
                code = run(settings, stdout=io.StringIO(), stderr=io.StringIO())
        assert code == expected, (name, code)
        print(f"recorded {path.relative_to(Path.cwd())}")


if __name__ == "__main__":
    record()
