"""The advice of each failure class names the settings in its reader's words: a stack file's keys
for the CLI and every result the API returns (``ADVICE``, unchanged), the form's labels for the
console ("TLS mode", "Sender"), from one text per class (``verify.result.advice``)."""

from __future__ import annotations

import re

import pytest

from smtp_iac.verify.result import ADVICE, FIELD_WORDS, Audience, Failure, advice

STACK_KEYS = re.compile(r"verify\.(from|to|ca_file)|tls_mode|tls: (true|false)|password reference")


@pytest.mark.parametrize("failure", list(Failure))
def test_each_class_reads_in_both_audiences(failure: Failure) -> None:
    stack, form = advice(failure), advice(failure, Audience.FORM)
    assert stack == ADVICE[failure]  # what results carry: the stack file's words
    for text in (stack, form):
        assert "{" not in text and "}" not in text and "  " not in text and " ." not in text
        assert text.endswith("If the issue persists, contact your system administrator.")
    assert not STACK_KEYS.search(form), form


def test_the_stack_words_are_the_clis_as_before() -> None:
    assert ADVICE[Failure.SENDER_REJECTED] == (
        "The server refused the sender address. Use a From address this account may send as "
        "(verify.from, or the record's sender), e.g. a verified sender or domain at your provider. "
        "If the issue persists, contact your system administrator."
    )
    assert ADVICE[Failure.RECIPIENT_REJECTED].startswith("The server refused the test recipient (verify.to). Check")
    assert "set verify.ca_file to that CA bundle (PEM)." in ADVICE[Failure.CERT_VERIFY]
    greeting = ADVICE[Failure.GREETING_TIMEOUT]
    assert "(or your provider says SSL/TLS), set tls: true and tls_mode: implicit. Confirm" in greeting
    assert "typically an implicit-TLS client (tls_mode: implicit) on a plain" in ADVICE[Failure.TLS_MISMATCH]
    assert (
        "587 STARTTLS (recommended: tls: true, tls_mode: starttls), 465 implicit SSL/TLS (tls: true, "
        "tls_mode: implicit), 25 not recommended" in ADVICE[Failure.PROTOCOL]
    )
    assert "Check that the password reference points at the current secret; some" in ADVICE[Failure.AUTH_FAILED]


def test_the_form_words_name_the_forms_fields() -> None:
    assert set(FIELD_WORDS) and all(set(w) == set(Audience) for w in FIELD_WORDS.values())
    assert "(the Sender field)" in advice(Failure.SENDER_REJECTED, Audience.FORM)
    assert "set TLS mode to SSL/TLS" in advice(Failure.GREETING_TIMEOUT, Audience.FORM)
    assert "(recommended: TLS on, TLS mode STARTTLS)" in advice(Failure.CONNECTION_REFUSED, Audience.FORM)
    assert "Check that the Password is the current one" in advice(Failure.AUTH_FAILED, Audience.FORM)
    assert "system administrator to make the settings service trust that CA" in advice(
        Failure.CERT_VERIFY, Audience.FORM
    )
