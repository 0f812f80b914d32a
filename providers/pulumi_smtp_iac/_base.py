"""What this SDK's resource classes share: snake_case attributes for the engine's camelCase
property names, and the typed read of an output attribute."""

from __future__ import annotations

from typing import Any

import pulumi

from ._names import to_camel, to_snake


class SnakeCaseNames:
    """Mixed into this SDK's resources: the engine's camelCase names become snake_case
    attributes (``translate_output_property``), and the snake_case names a resource registers
    with, or ``ignore_changes`` and the like name, go out camelCase (``translate_input_property``)."""

    def translate_output_property(self, prop: str) -> str:
        return to_snake(prop)

    def translate_input_property(self, prop: str) -> str:
        return to_camel(prop)


def attribute(resource: pulumi.Resource, name: str) -> pulumi.Output[Any]:
    """The output the runtime set on ``resource`` for the property ``name`` (snake_case)."""
    out: pulumi.Output[Any] = pulumi.get(resource, name)
    return out


def require(values: dict[str, Any], names: tuple[str, ...], opts: pulumi.ResourceOptions | None) -> None:
    """``TypeError`` for a required input given as ``None`` (unless the resource is being
    rehydrated from a URN), as generated SDKs raise it."""
    if opts is not None and opts.urn:
        return
    for name in names:
        if values.get(name) is None:
            raise TypeError(f"Missing required property '{name}'")
