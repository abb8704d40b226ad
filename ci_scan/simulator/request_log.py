"""The request log: one JSON line per request the simulator receives, for tests that count requests."""

from __future__ import annotations

import json
import os
import threading


class RequestLog:
    """Appends `{"time", "method", "path", "status", "fault"}` lines to a file, each one flushed (the file is
    opened and closed per line). `time` is when the request arrived (Unix seconds, a float); `status` is
    null for a reset, `fault` the fault's label (e.g. "http:503") or null. No header or body is written."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path
        self._lock = threading.Lock()
        with open(self.path, "a", encoding="utf-8"):  # fail now, not at the first request
            pass

    def write(self, received: float, method: str, path: str, status: int | None, fault: str | None) -> None:
        line = json.dumps({"time": received, "method": method, "path": path, "status": status, "fault": fault})
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(line + "\n")
