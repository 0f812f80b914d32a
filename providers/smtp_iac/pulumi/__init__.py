"""Pulumi side of smtp-iac: the program (``program``), the two dynamic resources
(``resources``) and their stateless providers (``provider``), over the pure property logic
(``properties``). ``__main__.py`` at the project root calls ``program.main``."""
