"""SMTP settings of the controller, partner and organization tiers, as code.

Pure core: ``addresses``, ``models``, ``resolve``, ``diagnostics``, ``yamlsource``, ``schema``,
``rules``, ``validation``, ``stackfile``, ``diff``, ``plan``, ``blast``, ``drift``, ``guard``.
I/O: ``secrets``, ``desired``, ``planner``, ``planfile``, ``write`` (the one write path),
``apply``, ``store``, ``verify``, ``report``, ``cli``, ``pulumi``.
"""

__version__ = "0.3.0"
