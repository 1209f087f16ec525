"""The byte template's quoted-printable encoder: what a mail reader decodes is the text."""

from __future__ import annotations

import email
import email.policy
import quopri

from hypothesis import example, given
from hypothesis import strategies as st

from service.issues.message import _qp

ONE_LINE = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)))


@given(ONE_LINE)
@example("Hej Åsa Öberg = välkommen  ")
@example(".")
@example("https://innanforskapet.example.se/installningar/" + "Wz" * 40)
@example("slut med tabb\t")
def test_qp_decodes_to_the_line(line: str) -> None:
    encoded = _qp(line)
    assert b"\n" not in encoded.replace(b"\r\n", b"")  # CRLF only
    assert all(len(physical) <= 76 for physical in encoded.split(b"\r\n"))
    assert encoded.isascii()
    assert quopri.decodestring(encoded.replace(b"\r\n", b"\n")) == line.encode("utf-8")
    # The receiving side's parser agrees.
    part = email.message_from_bytes(
        b'Content-Type: text/plain; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + encoded + b"\r\n"
    )
    assert part.get_payload(decode=True) == line.encode("utf-8") + b"\r\n"


SUBJECTS = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x85"),
    min_size=1,
    max_size=200,
).filter(lambda s: s.strip() == s)


@given(SUBJECTS)
@example("Nyhetsbrev för Åsa: välfärd, samverkan & ”innanförskap” i Halland – höst 2019")
@example("[TEST] Nyhetsbrev för Åsa: välfärd, samverkan & ”innanförskap” i Halland – höst 2019")
def test_the_subject_arrives_as_written(subject: str) -> None:
    """The email package's folding dropped the space in "samverkan & ”innanförskap”";
    what a reader's mail program decodes must be the subject, space for space."""
    from email.header import decode_header, make_header

    from service.mail.compose import encode_subject

    raw = b"Subject: " + encode_subject(subject) + b"\r\n\r\n"
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == subject
    legacy = email.message_from_bytes(raw)["Subject"]
    assert str(make_header(decode_header(legacy))) == subject
