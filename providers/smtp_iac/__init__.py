"""SMTP settings of the controller, partner and organization tiers, as code.

The folders follow the data. Here, the domain, pure: ``addresses``, ``models``, ``resolve``
(the tier rule), ``errors``, ``access`` (who may do what in the settings service), ``tokens``,
``tiermap``, ``guard``, ``diagnostics``, ``actor``. ``reading`` (a stack file to a checked
``Stack``), ``planning`` (a stack to the store: diff, plan, drift, the one write path,
apply), ``store`` (SQL, and ``store.remote``: the service as a store), ``verify`` (SMTP checks),
``report``; the edges: ``cli``, ``service`` (the HTTP API), ``console`` (the web console on
it), ``pulumi``.
"""

__version__ = "0.11.0"
