"""Which run this is: the default run a newcomer makes, or the full run CI makes
(``SMTP_IAC_FULL_TESTS=1``, which ``.ci/run`` sets): the slow tests, and the service fuzzing at
its full number of examples, run only in the full run (tests/conftest.py)."""

from __future__ import annotations

import os

FULL_ENV = "SMTP_IAC_FULL_TESTS"
FULL = os.environ.get(FULL_ENV, "").strip() == "1"
