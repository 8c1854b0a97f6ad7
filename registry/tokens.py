"""Removal tokens: shown once to the author, stored only as a hash.

Tokens are 192 random bits (``secrets.token_urlsafe(24)``). A slow, salted
hash (scrypt) protects *guessable* secrets such as passwords; against a
192-bit random token it adds nothing (no one can try 2**192 candidates,
however fast the hash), while costing about 50 ms a token: a bulk import of
100,000 rows would hash for over an hour. New tokens are therefore stored as
``sha256$<hex digest>``, computed in microseconds. The digest is unsalted on
purpose: the same token always gives the same digest, so the entries an author
registered with one token can be found by it (an indexed look-up, no scan).

Hashes written before, ``scrypt$N$r$p$salt$hash`` (salt and hash in URL-safe
base64), keep working, and import accepts both forms.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_DKLEN = 32
# An imported hash may not make us spend more than this (memory = 128 * N * r bytes).
_MAX_N = 2**17
SHA256_PREFIX = "sha256$"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# What the service accepts as a token before hashing it: what new_token makes, and
# the tokens of older versions (same alphabet); never more than this many characters.
MAX_TOKEN_LENGTH = 200


def new_token() -> str:
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    """The stored form of a token made by :func:`new_token` (see the module docstring)."""
    return SHA256_PREFIX + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def scrypt_hash_token(token: str) -> str:
    """The older, salted scrypt form (kept for tests and for hashes made elsewhere)."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(token, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(
        ("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest))
    )


def verify_token(token: str, stored: str) -> bool:
    """True when ``token`` is the one ``stored`` was made from; False for anything
    malformed (never raises)."""
    if not isinstance(token, str) or not isinstance(stored, str):
        return False
    if len(token) > MAX_TOKEN_LENGTH:
        return False
    if stored.startswith(SHA256_PREFIX):
        if not _HEX64.match(stored[len(SHA256_PREFIX) :]):
            return False
        return hmac.compare_digest(hash_token(token), stored)
    params = parse_scrypt_hash(stored)
    if params is None:
        return False
    n, r, p, salt, digest = params
    return hmac.compare_digest(_scrypt(token, salt, n, r, p), digest)


def is_token_hash(stored: object) -> bool:
    """Whether ``stored`` is a token hash this version can verify (either form)."""
    if not isinstance(stored, str):
        return False
    if stored.startswith(SHA256_PREFIX):
        return bool(_HEX64.match(stored[len(SHA256_PREFIX) :]))
    return parse_scrypt_hash(stored) is not None


def parse_scrypt_hash(stored: object) -> tuple[int, int, int, bytes, bytes] | None:
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
