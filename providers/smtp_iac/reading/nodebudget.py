"""How many YAML nodes (keys and values) one stack file may hold: what bounds the work of
reading and validating a file that comes from a pull request (``yamlsource``, hostile input), and
how a large platform's pipeline raises it (performance at scale). The budget is read from the environment
only, never from a file, so a pull request cannot raise it."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..errors import UsageError

# Keys and values. The 20,000-organization platform of benchmarks/platform_gen.py has 111,385
# (5.5 per organization); 20,000 organizations that all have their own settings, 364,000.
# Reading 750,000 takes ~1.2 s, validating them ~1.2 s more; 16 MiB can hold 8,000,000.
MAX_NODES = 750_000
# A platform of more than about 130,000 organizations needs more: its pipeline (never the file)
# raises the budget with this variable, up to what MAX_BYTES can hold.
NODES_ENV = "SMTP_IAC_MAX_NODES"
NODES_CEILING = 8_000_000


def node_budget(environ: Mapping[str, str] | None = None) -> int:
    """The node budget: ``MAX_NODES``, or ``SMTP_IAC_MAX_NODES`` where the pipeline sets it.
    A value that is not a whole number from ``MAX_NODES`` to ``NODES_CEILING`` is a
    ``UsageError``: the budget can be raised for a large platform, never lowered past sense."""
    text = (os.environ if environ is None else environ).get(NODES_ENV, "").strip()
    if not text:
        return MAX_NODES
    if not text.isascii() or not text.isdigit() or not MAX_NODES <= int(text) <= NODES_CEILING:
        raise UsageError(
            f"{NODES_ENV} must be a whole number from {MAX_NODES:,} to {NODES_CEILING:,} (YAML nodes in a stack file)",
            hint=f"unset it for the default, {MAX_NODES:,}",
        )
    return int(text)


def too_many_nodes(budget: int) -> str:
    """The refusal of the first node over ``budget``."""
    return (
        f"too many YAML nodes: more than {budget:,} keys and values (a 20,000-organization stack has 110,000; "
        f"a larger platform's pipeline may raise the budget with {NODES_ENV})"
    )
