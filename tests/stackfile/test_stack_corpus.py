"""The malformed-file corpus (``tests/corpus/*.yaml``, plus a 50 MB file and a 500,000-deep
nesting generated at test time): each gives exit 1 and a located ``FILE:LINE:COL: error:``
message, never a traceback or a crash. Once through the real console script as a subprocess
(all files in one run), and once per file in process through ``cli.app.run``.

``EXPECTED`` pins the first error of each file (line, column, words of the message): the
positions were checked by hand against the files.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from smtp_iac.cli.app import run
from smtp_iac.reading.stackfile import read_bytes

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
VALID = CORPUS / "valid"
SMTP_IAC = Path(sys.executable).parent / "smtp-iac"

EXPECTED = {
    "alias.yaml": (5, 11, "YAML anchors are not allowed"),
    "bad-host-brackets.yaml": (5, 11, "without scheme, port, path or spaces"),
    "bad-host-ipv4.yaml": (5, 11, "looks like an IPv4 address but is not a valid one"),
    "bad-host-port.yaml": (5, 11, "without scheme, port, path or spaces"),
    "bad-host-scheme.yaml": (5, 11, "without scheme, port, path or spaces"),
    "bad-host-space.yaml": (5, 11, "without scheme, port, path or spaces"),
    "bad-partner-id.yaml": (4, 3, "invalid id 'Acme_Corp'"),
    "binary-tag.yaml": (9, 15, ""),
    "crlf-in-org-id.yaml": (6, 7, "must not contain CR, LF or NUL"),
    "crlf-in-sender.yaml": (10, 13, "sender must not contain CR, LF or NUL"),
    "deep-nesting.yaml": (3, 76, "YAML nesting is too deep"),
    "duplicate-keys.yaml": (9, 5, "duplicate key 'port' (first at line 6)"),
    "duplicate-partner.yaml": (5, 3, "duplicate key 'acme' (first at line 4)"),
    "empty.yaml": (1, 1, "file is empty"),
    "file-ref-absolute-outside.yaml": (9, 22, "resolves to /etc/passwd, outside the stack's repository"),
    "file-ref-dotdot-escape.yaml": (11, 15, "resolves to /etc/shadow, outside the stack's repository"),
    "inherit-typo.yaml": (4, 9, "or the word 'inherit'"),
    "lf-in-username-block.yaml": (8, 15, "username must not contain CR, LF or NUL"),
    "missing-required.yaml": (5, 5, "missing required key"),
    "missing-version.yaml": (1, 1, "missing required key 'version'"),
    "non-utf8.yaml": (5, 17, "file is not valid UTF-8 (byte 0xfc)"),
    "nul-escape-in-username.yaml": (8, 15, "username must not contain CR, LF or NUL"),
    "only-comments.yaml": (1, 1, "file is empty"),
    "password-two-refs.yaml": (9, 15, "password must be exactly one reference"),
    "plain-password.yaml": (9, 15, "a plain password is not allowed"),
    "port-465-tls-false.yaml": (6, 11, "port 465 is implicit TLS"),
    "port-70000.yaml": (6, 11, "port 70000 is out of range 1..65535"),
    "port-fraction.yaml": (6, 11, "port must be an integer, not number"),
    "port-huge.yaml": (6, 11, "is out of range 1..65535"),
    "port-nan.yaml": (6, 11, "port must be an integer, not number"),
    "port-string.yaml": (6, 11, "port must be an integer, not string"),
    "port-zero.yaml": (6, 11, "port 0 is out of range 1..65535"),
    "python-object-mapping.yaml": (3, 13, "unsupported YAML tag tag:yaml.org,2002:python/object:builtins.dict"),
    "python-object-tag.yaml": (3, 8, ""),
    "raw-control-char.yaml": (3, 19, "special character #x0007 is not allowed"),
    "raw-nul-byte.yaml": (3, 19, "special character #x0000 is not allowed"),
    "smtp-null.yaml": (4, 8, "or the word 'inherit'"),
    "syntax-bad-indent.yaml": (6, 4, "YAML syntax error"),
    "syntax-complex-key.yaml": (3, 3, "mapping keys must be plain strings"),
    "syntax-multi-document.yaml": (3, 1, "expected a single document"),
    "syntax-unclosed-flow.yaml": (4, 1, "YAML syntax error"),
    "syntax-unclosed-quote.yaml": (4, 1, "YAML syntax error"),
    "tab-indented.yaml": (4, 1, "YAML syntax error"),
    "tls-mode-without-tls.yaml": (10, 15, "tls_mode is only allowed with tls: true"),
    "tls-yes.yaml": (7, 10, "tls must be true or false, not string"),
    "top-list.yaml": (1, 1, "document must be a mapping, not list"),
    "top-scalar.yaml": (1, 1, "document must be a mapping, not string"),
    "unknown-key-hots.yaml": (9, 5, "unknown key 'hots' in smtp (did you mean 'host'?)"),
    "unknown-top-key.yaml": (3, 1, "unknown key 'partner' (did you mean 'partners'?)"),
    "utf16.yaml": (1, 1, "file is not valid UTF-8"),
    "verify-send-without-to.yaml": (4, 3, "verify.to is required when mode is send"),
    "verify-timeout-121.yaml": (4, 20, "timeout_seconds 121 is out of range 1..120"),
    "version-2.yaml": (1, 10, "version must be 1"),
    # invisible characters (raw, or from a double-quoted escape), in values, ids and keys
    "invisible-zwsp-in-host.yaml": (5, 11, "host contains U+200B ZERO WIDTH SPACE"),
    "invisible-bidi-override-in-host.yaml": (5, 11, "host contains U+202E RIGHT-TO-LEFT OVERRIDE"),
    "invisible-soft-hyphen-in-username.yaml": (8, 15, "username contains U+00AD SOFT HYPHEN"),
    "invisible-bom-in-sender.yaml": (10, 13, "sender contains U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    "invisible-escaped-isolate-in-username.yaml": (8, 15, "username contains U+2066 LEFT-TO-RIGHT ISOLATE"),
    "invisible-escape-char-in-username.yaml": (8, 15, "username contains U+001B, a control character"),
    "invisible-tag-chars-in-name.yaml": (2, 7, "name contains U+E0069 TAG LATIN SMALL LETTER I"),
    "invisible-zwj-in-partner-id.yaml": (4, 3, "key 'acme\\u200d' contains U+200D ZERO WIDTH JOINER"),
    "invisible-word-joiner-in-env.yaml": (9, 21, "env contains U+2060 WORD JOINER"),
    "invisible-line-separator-in-store.yaml": (3, 8, "store contains U+2028 LINE SEPARATOR"),
    "invisible-zwnj-in-unknown-key.yaml": (10, 5, "key 'tls_mo\\u200cde' contains U+200C ZERO WIDTH NON-JOINER"),
    # line breaks to YAML 1.1 only: folded into a space in quotes, the end of a comment
    "raw-nel-in-quoted-username.yaml": (8, 19, "raw U+0085 NEXT LINE (NEL): the YAML reader takes it for a line break"),
    "raw-line-separator-ends-comment.yaml": (4, 51, "raw U+2028 LINE SEPARATOR"),
    # hosts that IDNA 2003 or the UTS 46 mapping would quietly turn into another name
    "host-fullwidth.yaml": (5, 11, "host is not written as it would be used"),
    "host-nfd.yaml": (5, 11, "host is not in Unicode normal form NFC"),
    "host-idna2008-disallowed.yaml": (5, 11, "IDNA 2008: Codepoint U+2044"),
    "host-bad-a-label.yaml": (5, 11, "host label 'xn--zz' is not a valid IDNA A-label"),
    "host-zwj-in-label.yaml": (5, 11, "host contains U+200D ZERO WIDTH JOINER"),
    # bounded work in a small file
    "long-hex-port.yaml": (6, 11, "value is not a valid int (over 1000 digits)"),
    "long-colon-host.yaml": (5, 11, "host must be at most 253 characters"),
    # relays: (SPEC) and smtp: {relay: NAME, ...}
    "relay-bad-name.yaml": (4, 3, "invalid relay name 'Send_Grid'"),
    "relay-unknown.yaml": (15, 14, "unknown relay 'sengrid' (did you mean 'sendgrid'?)"),
    "relay-unknown-key-beside.yaml": (14, 7, "unknown key 'sendr' in smtp (did you mean 'sender'?)"),
    "relay-override-465-tls-false.yaml": (16, 16, "port 465 is implicit TLS: set tls: true"),
    "relay-file-ref-outside.yaml": (9, 22, "resolves to /etc/passwd, outside the stack's repository"),
}
GENERATED = {
    "huge-50mb.yaml": (1, 1, "over the 16777216 byte limit"),
    "deeper-than-c.yaml": (3, 76, "YAML nesting is too deep"),
    "Bad_Stem.yaml": (1, 1, "the stack name defaults to the file's stem 'Bad_Stem'"),
}
SECRETS_IN_CORPUS = ["correct-horse-battery-staple", "c2VjcmV0", "secret"]


def located(file: str) -> re.Pattern:
    return re.compile(rf"^{re.escape(file)}:(\d+):(\d+): error: (.*) \[at \$.*\]$", re.M)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("generated")
    huge = d / "huge-50mb.yaml"
    entry = "  p{:07d}:\n    smtp: inherit\n"
    with huge.open("w") as f:  # a plausible stack, just far too big
        f.write("version: 1\nname: huge\npartners:\n")
        i = 0
        while f.tell() < 50 * 1024 * 1024:
            f.write("".join(entry.format(i + k) for k in range(10_000)))
            i += 10_000
    deep = d / "deeper-than-c.yaml"
    deep.write_text("version: 1\nname: deep\ncontroller: " + "[" * 500_000 + "]" * 500_000 + "\n")
    stem = d / "Bad_Stem.yaml"
    stem.write_text("version: 1\ncontroller:\n  smtp: inherit\n")
    return {p.name: p for p in (huge, deep, stem)}


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.yaml"))


def test_corpus_is_complete():
    names = {p.name for p in corpus_files()}
    assert len(names) >= 30
    assert names == set(EXPECTED), f"unlisted: {names - set(EXPECTED)}, missing: {set(EXPECTED) - names}"
    assert (CORPUS / "empty.yaml").stat().st_size == 0
    assert b"\xfc" in (CORPUS / "non-utf8.yaml").read_bytes()


def test_every_malformed_file_through_the_real_console_script(generated):
    files = [str(p) for p in corpus_files()] + [str(p) for p in generated.values()]
    r = subprocess.run([str(SMTP_IAC), "validate", *files], capture_output=True, text=True, timeout=180)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out[-2000:]
    assert "Traceback" not in out
    for f in files:
        name = Path(f).name
        line, col, fragment = {**EXPECTED, **GENERATED}[name]
        found = [(int(m[1]), int(m[2]), m[3]) for m in located(f).finditer(r.stdout)]
        assert found, f"no located error for {f}"
        assert (line, col) in [(a, b) for a, b, _ in found], (name, found)
        assert any(fragment in msg for _, _, msg in found), (name, found)
        assert re.search(rf"^{re.escape(f)}: invalid \(\d+ error\(s\)", r.stdout, re.M), name
    for secret in SECRETS_IN_CORPUS:
        assert secret not in out


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_each_malformed_file_in_process(path, capsys):
    rc = run(["validate", str(path)])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "Traceback" not in out + err and "internal error" not in out + err
    line, col, fragment = EXPECTED[path.name]
    found = [(int(m[1]), int(m[2]), m[3]) for m in located(str(path)).finditer(out)]
    assert (line, col) in [f[:2] for f in found], out
    assert found == sorted(found, key=lambda f: f[:2]), "diagnostics in file order"
    assert any(fragment in msg for a, b, msg in found if (a, b) == (line, col)), out
    for secret in SECRETS_IN_CORPUS:
        assert secret not in out + err


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_each_generated_file_in_process(generated, name, capsys):
    rc = run(["validate", str(generated[name])])
    out, _err = capsys.readouterr()
    assert rc == 1
    line, col, fragment = GENERATED[name]
    assert re.search(rf"^{re.escape(str(generated[name]))}:{line}:{col}: error: .*{re.escape(fragment)}", out, re.M), (
        out
    )


@pytest.mark.parametrize("path", sorted(VALID.glob("*.yaml")), ids=lambda p: p.name)
def test_valid_neighbours_of_the_corpus_pass(path, capsys):
    """A BOM, CRLF line endings, warnings only: valid (exit 0)."""
    rc = run(["validate", str(path)])
    out, _ = capsys.readouterr()
    assert rc == 0, out
    assert f"{path}: valid (0 error(s)" in out


def test_bom_does_not_shift_columns():
    path = VALID / "bom.yaml"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    bad = path.read_text(encoding="utf-8-sig").replace("port: 587", "port: 0")
    _, diags = read_bytes(("\ufeff" + bad).encode("utf-8"), "bom.yaml")
    assert [d.format() for d in diags] == [
        "bom.yaml:7:11: error: port 0 is out of range 1..65535 [at $.controller.smtp.port]"
    ]
