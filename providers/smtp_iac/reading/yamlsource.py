"""Safe YAML reading that remembers where every value stands.

PyYAML (libyaml when built in) only parses, to events; values are built here in ONE pass over
the events, with an explicit stack (no recursion), so that (a) every value and key keeps its
line and column, (b) anchors and aliases are refused (they hide what a reviewer reads),
(c) duplicate keys are refused (YAML keeps the last one silently), (d) scalars follow YAML
1.2's core schema: ``yes``/``no``/``on``/``off`` stay strings, ``0755`` is the integer 755 (octal
is ``0o755``, hex ``0x1F``), ``1:30`` is not sexagesimal, timestamps stay strings.

Bounded work for any file (a stack file comes from a pull request, and validate runs on every
one): at most ``MAX_BYTES`` bytes, ``MAX_DEPTH`` levels and ``MAX_NODES`` nodes (keys and values;
the first node over the limit is refused, located, and nothing more is read; a pipeline may raise
the node budget with ``SMTP_IAC_MAX_NODES``, ``node_budget``), and at most
``ERROR_BUDGET`` problems are kept (in file order; ``Document.omitted`` counts the rest).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml import events as E
from yaml.composer import ComposerError
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from ..diagnostics import ERROR_BUDGET
from .nodebudget import MAX_NODES, NODES_CEILING, NODES_ENV, node_budget, too_many_nodes
from .yamltext import MAX_BYTES, Problem, decode, line_col, refuse_text

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "NODES_CEILING",
    "NODES_ENV",
    "Document",
    "Problem",
    "decode",
    "node_budget",
    "parse_bytes",
    "parse_text",
]

ScalarEvent, MappingStartEvent, SequenceStartEvent = E.ScalarEvent, E.MappingStartEvent, E.SequenceStartEvent
MappingEndEvent, SequenceEndEvent, AliasEvent = E.MappingEndEvent, E.SequenceEndEvent, E.AliasEvent

# A stack file nests 7 deep (partners/p/organizations/o/smtp/password/env).
MAX_DEPTH = 64
# libyaml refuses 1,000 levels itself, possibly before handing over the event of level 65 (its
# scanner reads up to 1,024 characters ahead). Then PyYAML's Python parser (10x slower) finds
# our limit at its place if the part already read is this small; else ``_scan_flow_depth``.
_PY_FALLBACK_EVENTS = 10_000
# ``0x`` and 16 MiB of hex digits is an int Python cannot print (jsonschema's messages do).
MAX_INT_DIGITS = 1000

Path = tuple[Any, ...]
_NONE: Any = None

_T = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ, _INT_TAG, _FLOAT_TAG = _T + "str", _T + "map", _T + "seq", _T + "int", _T + "float"
_BOOL_TAG, _NULL_TAG = _T + "bool", _T + "null"
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
# YAML 1.2 core schema (10.3.2): decimal digits with any leading zeros (0755 is 755), 0o octal, 0x hex.
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_DECIMAL = re.compile(r"[-+]?[0-9]+")
# A float needs a dot or an exponent (digits alone are an int, resolved first).
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")


class _CoreResolver(BaseResolver):
    """YAML 1.2 core schema for plain scalars."""


_CoreResolver.yaml_implicit_resolvers = {}
_CoreResolver.add_implicit_resolver(_BOOL_TAG, _BOOL, list("tTfF"))
_CoreResolver.add_implicit_resolver(_INT_TAG, _INT, list("-+0123456789"))
_CoreResolver.add_implicit_resolver(_FLOAT_TAG, _FLOAT, list("-+0123456789."))
_CoreResolver.add_implicit_resolver(_NULL_TAG, _NULL, ["~", "n", "N", ""])
_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = _CoreResolver.yaml_implicit_resolvers


class _Refused(Exception):
    def __init__(self, message: str, mark: Any):
        super().__init__(message)
        self.message, self.mark = message, mark


class _Empty(Exception):
    """No document in the stream (an empty file, or comments only)."""


class _PyLoader(Reader, Scanner, Parser, _CoreResolver):
    def __init__(self, stream: str):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _CoreResolver.__init__(self)


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    _Loader: type = CParser
else:  # pragma: no cover - PyYAML built without libyaml
    _Loader = _PyLoader


def _too_deep(mark: Any) -> _Refused:
    return _Refused(f"YAML nesting is too deep (more than {MAX_DEPTH} levels)", mark)


def _refuse_anchors(event: E.Event) -> None:
    if isinstance(event, AliasEvent):
        raise _Refused("YAML aliases are not allowed in stack files (write the value out)", event.start_mark)
    if isinstance(event, (ScalarEvent, E.CollectionStartEvent)) and event.anchor is not None:
        raise _Refused("YAML anchors are not allowed in stack files (write the value out)", event.start_mark)


def _prescan_in_python(text: str) -> None:
    """PyYAML's pure-Python parser (no limit, no recursion) run only as far as our limits:
    refuses anchors, aliases and the first level over MAX_DEPTH at their own place."""
    loader: Any = _PyLoader(text)
    depth = 0
    while loader.check_event():
        event = loader.get_event()
        _refuse_anchors(event)
        depth += isinstance(event, E.CollectionStartEvent) - isinstance(event, E.CollectionEndEvent)
        if depth > MAX_DEPTH:
            raise _too_deep(event.start_mark)


Where = tuple[int, int, Any]
"""Where a node stands: (line, column, children). Children: None for a scalar; for a sequence a
list of ``Where``; for a mapping a dict of key -> (key's line, key's column, value's line,
value's column, value's children)."""


@dataclass
class Document:
    """Plain data (dicts, lists, str, int, float, bool, None) and where each part stands."""

    data: Any
    problems: list[Problem] = field(default_factory=list)  # the first ERROR_BUDGET, in file order
    omitted: int = 0  # problems found after those
    where: Where | None = None  # of the root node
    text: str | None = None  # the decoded text it was read from

    def problem(self, line: int, column: int, message: str, path: Path = ()) -> None:
        if len(self.problems) < ERROR_BUDGET:
            self.problems.append(Problem(line, column, message, path))
        else:
            self.omitted += 1

    def locate(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Position of a path (its key's with ``key``), or of its nearest located ancestor."""
        if self.where is None:
            return (1, 1)
        line, col, children = self.where
        for part in path:
            if type(children) is dict and part in children:
                kline, kcol, line, col, children = children[part]
                if key:
                    line, col = kline, kcol
            elif type(children) is list and type(part) is int and 0 <= part < len(children):
                line, col, children = children[part]
            else:
                break
        return (line, col)


def _pos(mark: Any) -> tuple[int, int]:  # PyYAML counts from 0
    return (mark.line + 1, mark.column + 1)


def parse_bytes(raw: bytes, *, max_nodes: int | None = None) -> Document:
    if len(raw) > MAX_BYTES:
        return Document(None, problems=[Problem(1, 1, f"file is {len(raw)} bytes, over the {MAX_BYTES} byte limit")])
    text, problem = decode(raw)
    if text is None:
        return Document(None, problems=[problem] if problem else [])
    return parse_text(text, max_nodes=max_nodes)


def parse_text(text: str, *, max_nodes: int | None = None) -> Document:
    """``max_nodes``: the node budget (default: ``node_budget()``)."""
    budget = node_budget() if max_nodes is None else max_nodes
    refused = refuse_text(text)
    if refused is not None:
        return Document(None, problems=[refused])
    doc = Document(None, text=text)
    try:
        doc.data = _build(_Loader(text), doc, text, budget)
    except _Refused as e:
        return Document(None, problems=[Problem(*_pos(e.mark), e.message)])
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = _pos(mark) if mark else (1, 1)
        what = "; ".join(x for x in (e.context, e.problem) if x) or "invalid YAML"
        return Document(None, problems=[Problem(line, col, f"YAML syntax error: {what}")])
    except yaml.YAMLError as e:  # ReaderError (control characters) and others
        pos = getattr(e, "position", None)
        line, col = line_col(text, pos) if pos is not None else (1, 1)
        return Document(None, problems=[Problem(line, col, f"YAML error: {_reader_reason(e)}")])
    except _Empty:
        message = "file is empty: expected a mapping that starts with 'version: 1'"
        return Document(None, problems=[Problem(1, 1, message)])
    return doc


def _build(loader: Any, doc: Document, text: str, budget: int) -> Any:
    """The document's data from the parser's events, in one pass with an explicit stack.

    A mapping's ``state``: 0 a key is next, 1 its value, 2 a node to skip (the value of a
    duplicate or non-scalar key). ``skipping`` counts the open collections of a node being
    skipped (read, counted and checked for anchors, but not built)."""
    get_event = loader.get_event
    get_event()  # StreamStart
    if isinstance(get_event(), E.StreamEndEvent):
        raise _Empty
    nodes = depth = skipping = state = kline = kcol = 0
    # the dict or list being filled and its positions (``Where`` children), the key it waits for
    container = children = key = root = ev = _NONE
    cpath: Path = ()
    stack: list[tuple[Any, Any, Path, int, Any, int, int]] = []
    try:
        while True:
            ev = get_event()
            cls = type(ev)
            if cls is ScalarEvent or cls is MappingStartEvent or cls is SequenceStartEvent:
                nodes += 1
                if nodes > budget:
                    raise _Refused(too_many_nodes(budget), ev.start_mark)
                if ev.anchor is not None:
                    _refuse_anchors(ev)
                scalar = cls is ScalarEvent
                if not scalar:
                    depth += 1
                    if depth > MAX_DEPTH:
                        raise _too_deep(ev.start_mark)
                    if skipping:
                        skipping += 1
                        continue
                elif skipping:
                    continue
                start = ev.start_mark
                line, col = start.line + 1, start.column + 1
                if state == 2:
                    state, skipping = 0, 0 if scalar else 1
                    continue
                if state == 0 and type(container) is dict:  # a key
                    if not scalar:
                        doc.problem(line, col, "mapping keys must be plain strings", cpath)
                        state, skipping = 2, 1
                    elif ev.value in container:
                        k = ev.value
                        first = children[k][0]
                        doc.problem(line, col, f"duplicate key '{_printable(k)}' (first at line {first})", cpath + (k,))
                        state = 2
                    else:
                        key, kline, kcol, state = ev.value, line, col, 1
                    continue
                if scalar:
                    value = ev.value
                    if ev.tag is not None or (ev.implicit[0] and value[:1] in _IMPLICIT):
                        value = _scalar(ev, cpath, key if state else len(container or ()), doc, container is None)
                    sub: Any = None
                else:
                    value = {} if cls is MappingStartEvent else []
                    sub = {} if cls is MappingStartEvent else []
                if state == 1:
                    container[key] = value
                    children[key] = (kline, kcol, line, col, sub)
                    state = 0
                    leaf: Path = (key,)
                elif container is not None:
                    leaf = (len(container),)
                    container.append(value)
                    children.append((line, col, sub))
                else:
                    root, leaf, doc.where = value, (), (line, col, sub)
                if not scalar:
                    tag = ev.tag
                    if tag is not None and tag != "!" and tag != (_MAP if cls is MappingStartEvent else _SEQ):
                        # e.g. ``!!python/object:os.system {...}`` or ``!!set``: refused like a scalar's tag.
                        doc.problem(line, col, f"unsupported YAML tag {_printable(tag)}", cpath + leaf)
                    stack.append((container, children, cpath, state, key, kline, kcol))
                    container, children, cpath, state = value, sub, cpath + leaf, 0
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                depth -= 1
                if skipping:
                    skipping -= 1
                else:
                    container, children, cpath, state, key, kline, kcol = stack.pop()
            elif cls is AliasEvent:
                _refuse_anchors(ev)
            elif cls is E.DocumentEndEvent:
                after = get_event()
                if not isinstance(after, E.StreamEndEvent):
                    raise ComposerError(
                        "expected a single document in the stream", None, "but found another document", after.start_mark
                    )
                return root
    except yaml.MarkedYAMLError as e:
        if _Loader is not _PyLoader and "nesting depth" in (e.problem or ""):
            if nodes <= _PY_FALLBACK_EVENTS:
                _prescan_in_python(text)  # raises our own refusal at level MAX_DEPTH + 1
            _scan_flow_depth(text, ev.end_mark.index if ev is not None else 0, depth, e)
        raise


def _scalar(ev: Any, cpath: Path, leaf: Any, doc: Document, root: bool) -> Any:
    """A scalar's value, by its tag (explicit, or resolved by the YAML 1.2 core schema).
    ``cpath`` + ``leaf`` (a key or index; nothing when ``root``) is its path."""
    path, value = () if root else cpath + (leaf,), ev.value
    tag = ev.tag
    if tag is None or tag == "!":
        if not ev.implicit[0]:
            return value
        for resolved, regexp in _IMPLICIT.get(value[:1], ()):
            if regexp.match(value):
                tag = resolved
                break
        else:
            return value
    try:
        if tag == _STR:
            return value
        if tag == _INT_TAG:
            if len(value) > MAX_INT_DIGITS:
                doc.problem(*_pos(ev.start_mark), f"value is not a valid int (over {MAX_INT_DIGITS} digits)", path)
                return value
            return int(value, 0) if value[:2] in ("0x", "0o") or not _DECIMAL.fullmatch(value) else int(value)
        if tag == _NULL_TAG:
            return None
        if tag == _BOOL_TAG:
            if not _BOOL.match(value):
                raise ValueError
            return value.lower() == "true"
        if tag == _FLOAT_TAG:
            low = value.lower()
            if low.endswith(".inf"):
                return -math.inf if low.startswith("-") else math.inf
            return math.nan if low == ".nan" else float(value)
    except ValueError:
        doc.problem(*_pos(ev.start_mark), f"value is not a valid {tag.rsplit(':', 1)[-1]}", path)
        return value
    doc.problem(*_pos(ev.start_mark), f"unsupported YAML tag {_printable(tag)}", path)
    return value


_FLOW_TOKEN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|(?<![^ \t\n])#[^\n]*|[\[\]{}]""")


def _scan_flow_depth(text: str, begin: int, depth: int, error: yaml.MarkedYAMLError) -> None:
    """libyaml stopped at its own nesting limit while reading ahead through flow brackets
    (``[[[[...``), after a part too long to read again with the Python parser. ``depth``
    collections were open after the last event it handed over, which ended at ``begin``; the
    brackets from there to its stop (outside quotes and comments) give the level over
    MAX_DEPTH, refused at its own place; else it is refused where libyaml stopped."""
    stop = error.problem_mark.index if error.problem_mark is not None else len(text)
    for m in _FLOW_TOKEN.finditer(text, begin, stop):
        depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(m.group(), 0)
        if depth > MAX_DEPTH:
            stop = m.start()
            break
    line, col = line_col(text, stop)
    raise _too_deep(yaml.error.Mark("", stop, line - 1, col - 1, None, 0))


def _reader_reason(e: yaml.YAMLError) -> str:
    if not isinstance(e, yaml.reader.ReaderError):
        return type(e).__name__
    what = f"special character #x{e.character:04x}" if isinstance(e.character, int) else "unreadable character"
    return f"{what} is not allowed" if isinstance(e.character, int) else what


def _printable(text: str) -> str:
    """A key as one line of text (a key with CR/LF must not break the FILE:LINE:COL format);
    at most 80 characters, whatever the length of the key."""
    return text[:80].encode("unicode_escape").decode("ascii")[:80]
