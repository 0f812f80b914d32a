"""Reporters: one module per output format, each rendering results (plan, drift, apply,
effective) that the core returns as data. JSON output is the results' own ``to_dict``."""
