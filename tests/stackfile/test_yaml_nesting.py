"""The nesting limit (64 levels) is the project's own, whatever PyYAML release is installed.

PyYAML 6.0.4's libyaml refuses 1,000 levels itself and, reading ahead, can report that before
the event of level 65 reaches the project's check. Both reading paths (libyaml's and the
pure-Python fallback used when libyaml reports its own limit) must give the same message at
the same place, for flow and block nesting, below and above libyaml's own limit.
"""

from __future__ import annotations

import pytest

from smtp_iac.reading import yamlsource


def flow(levels: int) -> str:
    return "version: 1\nname: deep\ncontroller: " + "[" * levels + "]" * levels + "\n"


def block(levels: int) -> str:
    lines = ["version: 1", "controller:"]
    lines += ["  " * (i + 1) + "k:" for i in range(levels - 1)]
    lines.append("  " * levels + "v")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text, where",
    [
        (flow(100), (3, 76)),  # under libyaml's own limit: the project's check sees level 65 first
        (flow(5_000), (3, 76)),  # over it: libyaml would report its own limit at its own place
        (block(200), (66, 129)),
        (block(1_500), (66, 129)),
    ],
)
def test_the_limit_and_its_place_are_ours(text, where):
    doc = yamlsource.parse_text(text)
    assert [(p.line, p.column, p.message) for p in doc.problems] == [
        (*where, f"YAML nesting is too deep (more than {yamlsource.MAX_DEPTH} levels)")
    ]


@pytest.mark.parametrize("text", [flow(100), flow(5_000), block(200), block(1_500)])
def test_the_python_fallback_refuses_at_the_same_place_as_the_fast_path(text):
    with pytest.raises(yamlsource._Refused) as fallback:
        yamlsource._prescan_in_python(text)
    doc = yamlsource.parse_text(text)
    assert (fallback.value.mark.line + 1, fallback.value.mark.column + 1) == (
        doc.problems[0].line,
        doc.problems[0].column,
    )


def test_sixty_four_levels_are_still_read():
    doc = yamlsource.parse_text(flow(63))  # 63 lists under the top-level mapping: 64 levels
    assert doc.problems == []


@pytest.mark.parametrize(
    "deep",
    ["[" * 5000 + "]" * 5000, "[ 'a[', " * 30 + "{k: " * 1000 + "}" * 1000 + "]" * 30, '["]\\"", # ]\n' + "[" * 2000],
    ids=["brackets", "quotes-and-mappings", "escapes-and-comment"],
)
def test_after_a_long_part_the_limit_is_found_without_reading_it_again(deep):
    """Past ``_PY_FALLBACK_EVENTS`` nodes, libyaml's own stop is not followed by a second, Python
    read of the whole file (10x slower): the brackets it read ahead give the same place."""
    long = "version: 1\nname: deep\nlist: [" + "1, " * yamlsource._PY_FALLBACK_EVENTS + "1]\ncontroller: "
    text = long + deep + "\n"
    with pytest.raises(yamlsource._Refused) as reference:
        yamlsource._prescan_in_python(text)
    doc = yamlsource.parse_text(text)
    assert [(p.line, p.column, p.message) for p in doc.problems] == [
        (
            reference.value.mark.line + 1,
            reference.value.mark.column + 1,
            f"YAML nesting is too deep (more than {yamlsource.MAX_DEPTH} levels)",
        )
    ]
