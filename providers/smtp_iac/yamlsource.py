"""Safe YAML reading that remembers where every value stands.

PyYAML is used only to compose a node tree (the safe composer); values are built here so
that (a) every value and key keeps its line and column, (b) anchors and aliases are refused
(they hide what a reviewer reads), (c) duplicate keys are refused (YAML keeps the last one
silently), (d) scalars follow YAML 1.2's core schema: ``yes``/``no``/``on``/``off`` stay
strings, ``0755`` is not octal, ``1:30`` is not sexagesimal, timestamps stay strings.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, cast

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, Event, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

MAX_BYTES = 16 * 1024 * 1024  # a 20,000-organization stack is a few MiB
# A stack file nests 7 deep (partners/p/organizations/o/smtp/password/env). libyaml's composer
# recurses in C without a limit: 100,000 '[' crash the process. Refused before composing.
MAX_DEPTH = 64

Path = tuple[Any, ...]

_T = "tag:yaml.org,2002:"
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+|0o[0-7]+)$")
# A float needs a dot or an exponent; a leading-zero number like 0755 stays a string.
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|(?:0|[1-9][0-9]*)\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[-+]?(?:0|[1-9][0-9]*)[eE][-+]?[0-9]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")


class _CoreResolver(BaseResolver):
    """YAML 1.2 core schema for plain scalars."""


_CoreResolver.yaml_implicit_resolvers = {}
_CoreResolver.add_implicit_resolver(_T + "bool", _BOOL, list("tTfF"))
_CoreResolver.add_implicit_resolver(_T + "int", _INT, list("-+0123456789"))
_CoreResolver.add_implicit_resolver(_T + "float", _FLOAT, list("-+0123456789."))
_CoreResolver.add_implicit_resolver(_T + "null", _NULL, ["~", "n", "N", ""])


class _Refused(Exception):
    def __init__(self, message: str, mark: Any):
        super().__init__(message)
        self.message = message
        self.mark = mark


class _PyLoader(Reader, Scanner, Parser, Composer, _CoreResolver):
    def __init__(self, stream: str):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _CoreResolver.__init__(self)


def _prescan(loader: Any) -> None:
    """One pass over the events (the parser keeps an explicit stack, it does not recurse):
    refuse anchors, aliases and nesting deeper than MAX_DEPTH before anything composes."""
    depth = 0
    while loader.check_event():
        event = loader.get_event()
        _refuse_anchors(event)
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _Refused(f"YAML nesting is too deep (more than {MAX_DEPTH} levels)", event.start_mark)
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def _prescan_in_python(text: str) -> None:
    """The nesting limit is ours, whatever PyYAML release is installed. PyYAML 6.0.4's libyaml
    refuses 1,000 levels itself, and its scanner reads up to 1,024 characters ahead (a
    possible simple key), so on ``[[[[...`` it can report its own limit, at its own position,
    before the parser has handed us the event of level 65. Then PyYAML's pure-Python parser
    (no limit, no recursion, the same lookahead) is run only as far as our limit, so the
    message and the position are the same on every release."""
    loader = _PyLoader(text)
    try:
        _prescan(loader)
    finally:
        loader.dispose()


def _refuse_anchors(event: Event) -> None:
    if isinstance(event, AliasEvent):
        raise _Refused("YAML aliases are not allowed in stack files (write the value out)", event.start_mark)
    if isinstance(event, (ScalarEvent, CollectionStartEvent)) and event.anchor is not None:
        raise _Refused("YAML anchors are not allowed in stack files (write the value out)", event.start_mark)


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _CLoader(CParser, _CoreResolver):
        def __init__(self, stream: str):
            CParser.__init__(self, stream)
            _CoreResolver.__init__(self)

    _Loader: type = _CLoader
else:  # pragma: no cover - PyYAML built without libyaml
    _Loader = _PyLoader


def _compose(text: str) -> Node | None:
    """libyaml is ~7x faster than PyYAML's Python parser (a 20,000-organization stack is
    parsed on every plan). One pass over the events refuses anchors and aliases and too deep
    nesting (the C composer gives no hook and recurses without a limit), a second composes."""
    scan = _Loader(text)
    try:
        _prescan(scan)
    except yaml.MarkedYAMLError as e:
        if _Loader is not _PyLoader and "nesting depth" in (e.problem or ""):
            _prescan_in_python(text)  # raises our own refusal at level MAX_DEPTH + 1
        raise
    finally:
        scan.dispose()
    loader = _Loader(text)
    try:
        return cast("Node | None", loader.get_single_node())
    finally:
        loader.dispose()


@dataclass
class Problem:
    """A problem found before or while reading: message at a 1-based line and column."""

    line: int
    column: int
    message: str
    path: Path = ()  # where in the document, when the problem is in a value or key


@dataclass
class Document:
    """Plain data (dicts, lists, str, int, float, bool, None) and where each part stands."""

    data: Any
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)  # path -> (line, col) of the value
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)  # path -> (line, col) of the key
    problems: list[Problem] = field(default_factory=list)

    def locate(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Position of a path, or of its nearest located ancestor."""
        p = tuple(path)
        while True:
            if key and p in self.keys:
                return self.keys[p]
            if p in self.values:
                return self.values[p]
            if not p:
                return (1, 1)
            p = p[:-1]


def _pos(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1)


def decode(raw: bytes) -> tuple[str | None, Problem | None]:
    """UTF-8 (with or without BOM). A bad byte is reported at its line and column."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        before = raw[: e.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        return None, Problem(line, col, f"file is not valid UTF-8 (byte 0x{raw[e.start]:02x})")
    return text, None


def parse_bytes(raw: bytes) -> Document:
    if len(raw) > MAX_BYTES:
        return Document(None, problems=[Problem(1, 1, f"file is {len(raw)} bytes, over the {MAX_BYTES} byte limit")])
    text, problem = decode(raw)
    if text is None:
        return Document(None, problems=[problem] if problem else [])
    return parse_text(text)


def parse_text(text: str) -> Document:
    doc = Document(None)
    try:
        node = _compose(text)
    except _Refused as e:
        doc.problems.append(Problem(*_pos(e.mark), e.message))
        return doc
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = _pos(mark) if mark else (1, 1)
        what = "; ".join(x for x in (e.context, e.problem) if x) or "invalid YAML"
        doc.problems.append(Problem(line, col, f"YAML syntax error: {what}"))
        return doc
    except yaml.YAMLError as e:  # ReaderError (control characters) and others
        pos = getattr(e, "position", None)
        line, col = _line_col(text, pos) if pos is not None else (1, 1)
        doc.problems.append(Problem(line, col, f"YAML error: {_reader_reason(e)}"))
        return doc
    except RecursionError:
        doc.problems.append(Problem(1, 1, "YAML nesting is too deep"))
        return doc
    if node is None:
        doc.problems.append(Problem(1, 1, "file is empty: expected a mapping that starts with 'version: 1'"))
        return doc
    try:
        doc.data = _build(node, (), doc)
    except RecursionError:
        doc.problems.append(Problem(1, 1, "YAML nesting is too deep"))
        doc.data = None
    return doc


def _reader_reason(e: yaml.YAMLError) -> str:
    if isinstance(e, yaml.reader.ReaderError):
        return (
            f"special character #x{e.character:04x} is not allowed"
            if isinstance(e.character, int)
            else "unreadable character"
        )
    return type(e).__name__


def _line_col(text: str, pos: int) -> tuple[int, int]:
    before = text[:pos]
    return before.count("\n") + 1, pos - (before.rfind("\n") + 1) + 1


_COLLECTION_TAGS: dict[type[Node], str] = {MappingNode: _T + "map", SequenceNode: _T + "seq"}


def _build(node: Node, path: Path, doc: Document) -> Any:
    doc.values[path] = _pos(node.start_mark)
    expected = _COLLECTION_TAGS.get(type(node))
    if expected is not None and node.tag != expected:
        # e.g. ``!!python/object:os.system {...}`` or ``!!set``: never built, refused like a scalar's tag.
        doc.problems.append(Problem(*_pos(node.start_mark), f"unsupported YAML tag {node.tag}", path))
    if isinstance(node, MappingNode):
        out: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                doc.problems.append(Problem(*_pos(key_node.start_mark), "mapping keys must be plain strings", path))
                continue
            key = key_node.value
            if key in first_seen:
                doc.problems.append(
                    Problem(
                        *_pos(key_node.start_mark),
                        f"duplicate key '{_printable(key)}' (first at line {first_seen[key]})",
                        path + (key,),
                    )
                )
                continue
            first_seen[key] = key_node.start_mark.line + 1
            doc.keys[path + (key,)] = _pos(key_node.start_mark)
            out[key] = _build(value_node, path + (key,), doc)
        return out
    if isinstance(node, SequenceNode):
        return [_build(item, path + (i,), doc) for i, item in enumerate(node.value)]
    assert isinstance(node, ScalarNode)
    return _scalar(node, path, doc)


def _scalar(node: ScalarNode, path: Path, doc: Document) -> Any:
    tag, value = node.tag, node.value
    try:
        if tag == _T + "str":
            return value
        if tag == _T + "bool":
            if not _BOOL.match(value):
                raise ValueError
            return value.lower() == "true"
        if tag == _T + "int":
            return int(value, 0) if not re.fullmatch(r"[-+]?[0-9]+", value) else int(value)
        if tag == _T + "float":
            low = value.lower()
            if low.endswith(".inf"):
                return -math.inf if low.startswith("-") else math.inf
            if low == ".nan":
                return math.nan
            return float(value)
        if tag == _T + "null":
            return None
    except ValueError:
        doc.problems.append(Problem(*_pos(node.start_mark), f"value is not a valid {tag.rsplit(':', 1)[-1]}", path))
        return value
    doc.problems.append(Problem(*_pos(node.start_mark), f"unsupported YAML tag {tag}", path))
    return value


def _printable(text: str) -> str:
    """A key as one line of text (a key with CR/LF must not break the FILE:LINE:COL format)."""
    return text.encode("unicode_escape").decode("ascii")[:80]
