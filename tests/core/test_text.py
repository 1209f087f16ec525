"""The characters single-line and multi-line text refuses (service.core.text)."""

from __future__ import annotations

import sys
import unicodedata

from service.core.text import has_control_chars


def test_refused_characters_are_exactly_the_documented_set() -> None:
    """Cc, Zl, Zp, Cs and the bidi controls in single-line text; multi-line keeps CR LF tab."""
    bidi = {
        chr(c) for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
    }
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        refused = unicodedata.category(char) in ("Cc", "Zl", "Zp", "Cs") or char in bidi
        assert has_control_chars(f"a{char}b") is refused, hex(code)
        assert has_control_chars(f"a{char}b", multiline=True) is (
            refused and char not in "\r\n\t"
        ), hex(code)
