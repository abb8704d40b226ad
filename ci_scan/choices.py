"""The values options may take, in a module light enough for `--help` to import."""

from __future__ import annotations

FAIL_ON_CHOICES = ("critical", "high", "medium", "low", "unknown", "none")
TAG_MODES = ("latest", "recent", "all")
"""`--tags` of registry scans: the console's own keywords (API_NOTES §10)."""
LANGUAGES = (
    "base", "java", "python", "ruby", "php", "javascript", "rust", "rust-binary", "golang",
    "golang-binary", "dotnet",
)
MAX_PAGE_SIZE = 1000
MAX_PARALLEL = 32
