"""Report formats. `FORMATS` is the one place that names them."""

from __future__ import annotations

from ci_scan.formats.base import Format
from ci_scan.formats.json import JsonFormat
from ci_scan.formats.junit import JunitFormat
from ci_scan.formats.sarif import SarifFormat
from ci_scan.gate import GateStatus

FORMATS: dict[str, Format] = {fmt.name: fmt for fmt in (JunitFormat(), SarifFormat(), JsonFormat())}

__all__ = ["FORMATS", "Format", "GateStatus", "JsonFormat", "JunitFormat", "SarifFormat"]
