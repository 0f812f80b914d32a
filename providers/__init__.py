"""Not a package: the source folder of the ``smtp_iac`` package (``providers/smtp_iac``).

Import ``smtp_iac``. This file exists so that ``import providers.smtp_iac`` fails from the
project root (where the Pulumi provider host runs) instead of loading every module a second
time under another name. It is not installed.
"""

raise ImportError("providers/ is the source folder of smtp-iac, not a package: import smtp_iac")
