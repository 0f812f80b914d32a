"""The Pulumi program: ``stacks/<pulumi stack>.yaml`` -> one dynamic resource per managed scope.

A file with errors fails the run with the same ``FILE:LINE:COL: error: ...`` lines as
``smtp-iac validate`` (``pulumi.RunError``: no Python traceback); warnings go to the engine
log. Passwords become Pulumi secrets here: ``{pulumi_config: key}`` through
``Config.require_secret``, ``{env: NAME}`` and ``{file: path}`` resolved and wrapped with
``Output.secret``. Names are addresses, so each resource's URN ends with its scope.
A scope that says ``smtp: {relay: NAME, ...}`` is declared with the merged, complete settings
(``Stack.scopes``), as ``smtp-iac plan`` shows them: a resource never names its relay.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pulumi

from ..addresses import Address
from ..errors import SmtpIacError, StackInvalid
from ..models import EnvRef, FileRef, PulumiConfigRef
from ..models import SmtpSettings as DesiredSettings
from ..reading.filerefs import FileScope
from ..reading.secrets import resolve_password
from ..reading.stackfile import load
from ..store import store_files
from .resources import SmtpInheritance, SmtpSettings

STACKS_DIR = "stacks"


def stack_file_for(stack: str, root: Path) -> Path:
    return root / STACKS_DIR / f"{stack}.yaml"


def build(stack: str | None = None, *, root: str | os.PathLike[str] | None = None) -> dict[str, pulumi.CustomResource]:
    """Declare the resources of ``stacks/<stack>.yaml`` (default: the Pulumi stack's name)
    under ``root`` (default: the working directory, the project root under Pulumi).
    Returns them by address."""
    stack = stack or pulumi.get_stack()
    root = Path(root) if root is not None else Path.cwd()
    path = stack_file_for(stack, root)
    shown = _relative(path, root)
    if not path.is_file():
        raise pulumi.RunError(
            f"{shown}: no stack file for Pulumi stack '{stack}' "
            f"(the program reads {STACKS_DIR}/<stack>.yaml; create it or select another stack)"
        )
    try:
        loaded = load(path)
    except StackInvalid as e:
        raise pulumi.RunError("\n".join(replace(d, file=shown).format() for d in e.diagnostics)) from None
    for diag in loaded.diagnostics:
        pulumi.log.warn(replace(diag, file=shown).format())

    verify = loaded.stack.verify.model_dump(by_alias=True, exclude_none=True)
    # The store the provider will use may come from stack config: its files are off limits too.
    files = loaded.files.forbidding(store_files(pulumi.Config("smtp-iac").get("store") or ""))
    resources: dict[str, pulumi.CustomResource] = {}
    for address, desired in loaded.stack.scopes().items():
        name = str(address)
        if not isinstance(desired, DesiredSettings):  # smtp: inherit
            resources[name] = SmtpInheritance(name, address=name, stack=loaded.name, stack_file=shown)
            continue
        try:
            password = _password(desired, files=files, address=address)
        except SmtpIacError as e:
            raise pulumi.RunError(str(e)) from None
        settings = desired.model_dump(exclude={"password"}, exclude_none=True)
        resources[name] = SmtpSettings(
            name, address=name, stack=loaded.name, settings=settings, password=password, verify=verify, stack_file=shown
        )
    return resources


def _password(desired: DesiredSettings, *, files: FileScope, address: Address) -> pulumi.Output[str]:
    ref = desired.password
    if isinstance(ref, PulumiConfigRef):
        namespace, _, key = ref.pulumi_config.rpartition(":")
        return pulumi.Config(namespace or None).require_secret(key)
    if isinstance(ref, (EnvRef, FileRef)):
        value = resolve_password(ref, files=files, address=address)  # SecretUnavailable: see build
        return pulumi.Output.secret(value.get_secret_value())
    raise pulumi.RunError(f"{address}: unsupported password reference")


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def main(root: Any = None) -> None:
    """Entry point of the Pulumi program (``__main__.py`` at the project root)."""
    build(root=root)
