"""The native Pulumi resource provider, ``pulumi-resource-smtp-iac``.

``schema`` (the package schema: tokens, properties, config), ``values`` (the engine's property
values to plain Python and back), ``settings`` and ``inheritance`` (the two resources),
``provider`` (the ``pulumi.provider.experimental.Provider``: config, routing, invoke),
``server`` (the gRPC process the engine starts). The behaviour behind it is the dynamic
provider's, through the same operations (``..operations``) and the one write path.
"""
