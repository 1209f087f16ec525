"""Addresses on the wire: IDNA for domains, SMTPUTF8 for local parts beyond ASCII.

We store addresses as people wrote them (normalised, Unicode). Sending needs:

* the domain in its ASCII form (``exämpel.se`` -> ``xn--exmpel-cua.se``; IDNA 2008 with
  UTS 46 mapping, the ``idna`` package), which every mail server takes;
* a local part with characters beyond ASCII (``åsa@…``) only through a server that
  offers SMTPUTF8 (RFC 6531), with the message's headers in UTF-8 (RFC 6532). A server
  without it refuses such a recipient permanently, with a Swedish reason for editors.
"""

from __future__ import annotations

import idna

NO_SMTPUTF8 = (
    "Adressen har tecken utanför a–z före @ (t.ex. å, ä, ö), och e-postservern kan inte "
    "ta emot sådana adresser (den saknar SMTPUTF8)."
)
BAD_DOMAIN = "Adressens domän kan inte skrivas om för e-post (IDNA)."


class UnsendableAddress(ValueError):
    """The address cannot be written on the wire at all (a malformed domain)."""


def ascii_domain(address: str) -> str:
    """``address`` with its domain in IDNA (ASCII) form; the local part unchanged."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        encoded = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise UnsendableAddress(BAD_DOMAIN) from None
    return f"{local}@{encoded}"


def needs_smtputf8(address: str) -> bool:
    """Whether ``address`` stays beyond ASCII after IDNA (its local part is)."""
    return not ascii_domain(address).isascii()


def header_form(address: str) -> str:
    """The address as it is written in ``To:`` (ASCII whenever it can be)."""
    try:
        return ascii_domain(address)
    except UnsendableAddress:
        return address
