"""Ed25519 signatures over a corpus manifest (the ``cryptography`` package).

``tdmcrawl keygen KEY`` writes a private key (``KEY``, PEM PKCS #8, readable by
its owner only) and its public key (``KEY.pub``, PEM). ``--sign-key KEY`` on
``crawl``, ``filter`` and ``recheck`` writes ``DIR/manifest.json.sig``;
``tdmcrawl verify DIR --public-key KEY.pub`` checks it.

Ed25519 signs a message held in memory, and a manifest can be large, so what
is signed is a short statement naming the manifest's SHA-256 and size
(:func:`statement`); the signature file repeats them, with the public key's
fingerprint, so a reader sees what was signed and by which key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tdmcrawl.crawler.clock import iso_utc
from tdmcrawl.crawler.errors import TdmcrawlError, UsageError
from tdmcrawl.crawler.warc.digests import file_sha256

SIGNATURE_SUFFIX = ".sig"
SIGNATURE_FORMAT = "tdmcrawl-manifest-signature/1"


class SignatureError(TdmcrawlError):
    """A signature that is missing, damaged or made by another key."""


def generate_keypair(path: Path) -> tuple[Path, Path]:
    """Write a new private key to ``path`` and its public key to ``path.pub``."""
    path = Path(path)
    public_path = path.with_name(path.name + ".pub")
    for existing in (path, public_path):
        if existing.exists():
            raise UsageError(f"{existing} exists: keygen never overwrites a key")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created readable by its owner only, never world-readable for an instant.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
    public_path.write_bytes(public_pem(key.public_key()))
    return path, public_path


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_fingerprint(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in ``path`` (PEM); a clear error for anything else."""
    data = _read(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{path} is not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{path} is not an Ed25519 key (make one with `tdmcrawl keygen`)")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in ``path`` (PEM, as ``tdmcrawl keygen`` writes KEY.pub)."""
    data = _read(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, AttributeError):
        raise UsageError(
            f"{path} is not a PEM public key (give the .pub file `tdmcrawl keygen` wrote)"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"{path} is not an Ed25519 public key")
    return key


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None


def signature_path(manifest: Path) -> Path:
    return manifest.with_name(manifest.name + SIGNATURE_SUFFIX)


def statement(sha256: str, size: int) -> bytes:
    """The bytes that are signed: the manifest's digest and size, nothing else."""
    return f"{SIGNATURE_FORMAT}\nmanifest-sha256: {sha256}\nmanifest-size: {size}\n".encode()


def sign_manifest(manifest: Path, key: Ed25519PrivateKey) -> Path:
    """Write ``manifest.json.sig`` for ``manifest``; returns its path."""
    size, sha256 = file_sha256(manifest)
    signature = key.sign(statement(sha256, size))
    body = {
        "format": SIGNATURE_FORMAT,
        "algorithm": "Ed25519",
        "manifest": manifest.name,
        "manifest_sha256": sha256,
        "manifest_size": size,
        "public_key": base64.b64encode(
            key.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        ).decode("ascii"),
        "public_key_fingerprint": key_fingerprint(key.public_key()),
        "signature": base64.b64encode(signature).decode("ascii"),
        "signed_at": iso_utc(),
    }
    target = signature_path(manifest)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, target)
    return target


def check_signature(manifest: Path, key: Ed25519PublicKey) -> dict[str, Any]:
    """Check ``manifest.json.sig`` against the manifest and ``key``; raises
    :class:`SignatureError` naming what does not hold, else returns the signature file."""
    sig_path = signature_path(manifest)
    if not sig_path.is_file():
        raise SignatureError(f"{manifest.name} is not signed ({sig_path.name} is missing)")
    try:
        body = json.loads(sig_path.read_text(encoding="utf-8"))
        signature = base64.b64decode(body["signature"], validate=True)
        signed_sha256 = str(body["manifest_sha256"])
        signed_size = int(body["manifest_size"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SignatureError(f"{sig_path.name} is damaged ({exc})") from None
    size, sha256 = file_sha256(manifest)
    if (sha256, size) != (signed_sha256, signed_size):
        raise SignatureError(
            f"{manifest.name} changed after it was signed (SHA-256 {sha256[:16]}…, "
            f"signed {signed_sha256[:16]}…)"
        )
    try:
        key.verify(signature, statement(signed_sha256, signed_size))
    except InvalidSignature:
        raise SignatureError(
            f"{sig_path.name} was not made by the key {key_fingerprint(key)}"
        ) from None
    return dict(body)
