"""HMAC (RFC 2104) with the keyed inner and outer hash states computed once per key.

The worker signs two link tokens and a VERP address per recipient. ``hmac.new`` and
``hmac.digest`` set up a fresh keyed context on every call (about 4 µs with OpenSSL 3);
copying two prepared ``hashlib`` states costs a fraction of that. Output is identical to
``hmac.digest(key, msg, name)``; a test checks it.
"""

from __future__ import annotations

import hashlib

_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


class PreparedHmac:
    def __init__(self, key: bytes, name: str) -> None:
        block = hashlib.new(name).block_size
        if len(key) > block:
            key = hashlib.new(name, key).digest()
        key = key.ljust(block, b"\0")
        self._inner = hashlib.new(name, key.translate(_IPAD))
        self._outer = hashlib.new(name, key.translate(_OPAD))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()
