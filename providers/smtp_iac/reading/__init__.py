"""Reading a stack file: bytes to a checked ``Stack``, every problem located (file, line, column).

In the order data travels: ``yamltext`` (text-level refusals: raw NEL, U+2028, U+2029),
``yamlsource`` (YAML with positions, bounded: ``nodebudget``), ``schema`` (the JSON Schema,
checked), ``rules`` (the rules a schema cannot say), ``relays`` (relay references), ``validation``
(all of them, one list of problems), ``filerefs`` (which files a stack may make smtp-iac read),
``secrets`` (password references resolved), ``stackfile`` (``read``: the whole of it).
"""
