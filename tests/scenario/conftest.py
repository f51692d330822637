"""One compressed demo scenario per test session: building it simulates the whole crowd."""

from __future__ import annotations

import pytest

from impetus.scenario import Scenario

DEMO_S = 20.0


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return Scenario.default(duration_s=DEMO_S, seed=3)


@pytest.fixture(scope="session")
def free_field() -> Scenario:
    """The same world without reflections: only the direct sound reaches each microphone."""
    return Scenario.default(duration_s=DEMO_S, seed=3, free_field=True)
