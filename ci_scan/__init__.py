"""ci-scan: gate CI pipelines on Deepfence ThreatMapper / ThreatStryker scans."""

__version__ = "0.1.0"
