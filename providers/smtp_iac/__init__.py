"""SMTP settings of the controller, partner and organization tiers, as code.

Pure core: ``addresses``, ``models``, ``resolve``, ``diagnostics``, ``yamlsource``,
``schema``, ``rules``, ``validation``, ``stackfile``, ``plan``, ``blast``, ``drift``, ``plandoc``.
I/O: ``secrets``, ``desired``, ``planning``, ``apply``, ``store``, ``verify``, ``report``,
``cli``, ``pulumi``.
"""

__version__ = "0.1.0"
