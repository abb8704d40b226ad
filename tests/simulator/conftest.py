"""Fixtures for the simulator tests: fresh simulators and spec-checked clients."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# `from tests...` imports need the project root on sys.path (see tests/formats/conftest.py).
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from ci_scan.simulator import ConsoleSimulator  # noqa: E402
from tests.simulator.helpers import Console, SpecContract  # noqa: E402


@pytest.fixture(scope="session")
def contract() -> SpecContract:
    """Loaded once per session: the spec is 680 KB."""
    return SpecContract()


@pytest.fixture
def sim() -> ConsoleSimulator:
    return ConsoleSimulator()


@pytest.fixture
def console(sim: ConsoleSimulator, contract: SpecContract) -> Iterator[Console]:
    """A client logged in with the admin token."""
    client = Console(sim, contract)
    client.login()
    yield client
    client.http.close()


@pytest.fixture
def anonymous(sim: ConsoleSimulator, contract: SpecContract) -> Iterator[Console]:
    """A client that has not logged in."""
    client = Console(sim, contract)
    yield client
    client.http.close()
