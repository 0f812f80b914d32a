"""What every test run shares: the Hypothesis profiles, the slow tests, and how many processes.

Hypothesis profiles. Locally every run searches anew (``dev``, hypothesis's defaults): a
property test may find a new counterexample on any run, which is what it is for. CI
(``.ci/run`` sets ``HYPOTHESIS_PROFILE=ci``) derandomizes: the same examples on every run, so
that a landing is never turned red by chance; what a local run finds becomes a fixed test.

The slow tests (marked ``slow``: each benchmark run to its end, the Pulumi host and race tests,
the TypeScript example's type check) run when ``SMTP_IAC_FULL_TESTS=1`` (``.ci/run`` sets it);
otherwise they skip and say how to run them, so the default run stays a few minutes long.

Processes: pytest-xdist's ``-n auto`` (pyproject's ``addopts``) asks ``pytest_xdist_auto_num_workers``:
twice the CPUs, at most 8, since most tests wait on sockets, SMTP conversations and subprocesses
rather than compute.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings
from run_mode import FULL, FULL_ENV

settings.register_profile("dev")
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    return min(8, 2 * (os.cpu_count() or 1))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if FULL:
        return
    skip = pytest.mark.skip(reason=f"slow: runs in the full run ({FULL_ENV}=1, as CI sets it)")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)
