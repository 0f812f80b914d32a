"""Relay health, the I/O part: checks of what is in force (``run``), over the pure rule in
``smtp_iac.relayhealth``."""
