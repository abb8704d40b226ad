"""Fixtures for the simulator tests: fresh simulators and spec-checked clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ci_scan.simulator import ConsoleSimulator
from tests.contract import SpecContract
from tests.simulator.helpers import Console


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
