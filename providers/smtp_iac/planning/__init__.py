"""From a stack to the store: what should be, what is, what changes, and the one write path.

In the order data travels: ``desired`` (a stack's scopes, passwords reduced to fingerprints),
``diff`` (desired against live), ``blast`` (whose mail a change carries), ``plan`` (the plan
document), ``planner`` (``make_plan``), ``planfile`` (saved, sealed plans), ``targets``
(``--target``), ``drift`` (live against the stack), ``write`` (the one write path:
``ScopeWriter``), ``apply`` (a plan carried out, a check per distinct relay).
"""
