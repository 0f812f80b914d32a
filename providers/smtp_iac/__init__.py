"""SMTP settings of the controller, partner and organization tiers, as code.

Pure core: ``addresses``, ``models``, ``resolve``, ``diagnostics``, ``yamlsource``, ``schema``,
``rules``, ``validation``, ``stackfile``, ``diff``, ``plan``, ``blast``, ``drift``, ``guard``,
``tokens``, ``access`` (who may do what in the settings service) and ``tiermap``.
I/O: ``secrets``, ``desired``, ``planner``, ``planfile``, ``write`` (the one write path),
``apply``, ``store`` (SQL, and ``store.remote``: the service as a store), ``verify``, ``report``,
``cli``, ``pulumi``, ``service`` (the HTTP API), ``console`` (the web console on it).
"""

__version__ = "0.7.0"
