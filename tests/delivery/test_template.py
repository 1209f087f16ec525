"""The byte template's quoted-printable encoder: what a mail reader decodes is the text."""

from __future__ import annotations

import email
import quopri

from hypothesis import example, given
from hypothesis import strategies as st

from service.mail.template import _qp

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
