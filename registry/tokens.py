"""Removal tokens: shown once to the author, stored only as a salted scrypt hash.

The stored form is ``scrypt$N$r$p$salt$hash`` (salt and hash in URL-safe
base64), so the cost can be raised later without breaking old entries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_DKLEN = 32
# An imported hash may not make us spend more than this (memory = 128 * N * r bytes).
_MAX_N = 2**17


def new_token() -> str:
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(token, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(
        ("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest))
    )


def verify_token(token: str, stored: str) -> bool:
    """True when ``token`` is the one ``stored`` was made from; False for anything
    malformed (never raises)."""
    params = parse_token_hash(stored)
    if params is None or not isinstance(token, str):
        return False
    n, r, p, salt, digest = params
    return hmac.compare_digest(_scrypt(token, salt, n, r, p), digest)


def parse_token_hash(stored: object) -> tuple[int, int, int, bytes, bytes] | None:
    if not isinstance(stored, str):
        return None
    fields = stored.split("$")
    if len(fields) != 6 or fields[0] != "scrypt":
        return None
    try:
        n, r, p = (int(x) for x in fields[1:4])
        salt = base64.urlsafe_b64decode(fields[4])
        digest = base64.urlsafe_b64decode(fields[5])
    except (ValueError, binascii.Error):
        return None
    if not (2 <= n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= 16 and 1 <= p <= 4):
        return None
    if len(salt) < 8 or len(digest) != _DKLEN:
        return None
    return n, r, p, salt, digest


def _scrypt(token: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        token.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=256 * n * r,
        dklen=_DKLEN,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")
