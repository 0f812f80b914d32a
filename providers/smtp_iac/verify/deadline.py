"""The one time limit of a check: ``verify.timeout_seconds`` for the whole conversation.

Rules:

- The clock starts when the check starts and covers everything after it: DNS, the TCP
  connect, TLS handshakes, every reply, AUTH, MAIL/RCPT/DATA. A stage gets only what the stages
  before it left (``remaining``), never a fresh ``timeout_seconds``: a relay that answers each
  stage slowly, or drips a byte at a time, cannot hold a check past the limit.
- A check that runs out of time fails in the class of the stage it was in (``connect_timeout``,
  ``greeting_timeout``, ``protocol``...), and its message says that it is the check's time limit
  that ran out (``ran_out``), not how long that one stage waited.
- The polite QUIT after a successful check is not under this limit (the check has passed by
  then); ``session.QUIT_WAIT_SECONDS`` bounds it.

Pure: reads the monotonic clock, nothing else.
"""

from __future__ import annotations

import time


class Deadline:
    def __init__(self, seconds: float, start: float | None = None):
        self.seconds = seconds
        self.start = time.monotonic() if start is None else start
        self.at = self.start + seconds

    def remaining(self) -> float:
        """Seconds left, never below zero."""
        return max(0.0, self.at - time.monotonic())

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @property
    def ran_out(self) -> str:
        """The end of every timeout message of a check."""
        return (
            f"the check's time limit ran out (verify.timeout_seconds: {self.seconds:g} s "
            "for the whole conversation, counted from the start of the check)"
        )
