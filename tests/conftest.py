"""Hypothesis profiles. Locally every run searches anew (``dev``, hypothesis's defaults): a
property test may find a new counterexample on any run, which is what it is for. CI
(``.ci/run`` sets ``HYPOTHESIS_PROFILE=ci``) derandomizes: the same examples on every run, so
that a landing is never turned red by chance; what a local run finds becomes a fixed test."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev")
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
