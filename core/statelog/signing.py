"""Signed records of a compare-and-set log: an HMAC-SHA256 over the record's JSON fields.

Anyone who can produce to a topic can write a record naming the next version; a log whose
records are signed applies only those that verify under the caller's key (a reader without
the key cannot tell, and such a log is not kept: the caller refuses to run without it).
The signature is one field of the record (`sig`) over every other field, in canonical JSON
(sorted keys, no spaces), so the record stays plain JSON for people reading the topic.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kafkaops.core.config import Secret

SIG = "sig"


def mac(key: bytes, data: Mapping[str, Any]) -> str:
    """HMAC-SHA256 (hex) of `data` as canonical JSON."""
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def signature(key: bytes, data: Mapping[str, Any], field: str = SIG) -> str:
    """The signature of a record's fields: every field but `field` itself."""
    return mac(key, {k: v for k, v in data.items() if k != field})


def verifies(key: bytes, data: Mapping[str, Any], field: str = SIG) -> bool:
    """True when the record carries a signature and it is the one `key` makes."""
    given = data.get(field)
    return isinstance(given, str) and bool(given) and bool(key) and hmac.compare_digest(
        signature(key, data, field), given)


# ---------------------------------------------------------------- Ed25519 record signatures
#
# Logs read by services that must not be able to write (the flags SDK, clients following a
# DR pair's active cluster) are signed with Ed25519: writers hold the private key, readers
# only the public one. The private key is derived from a configured secret (any text, e.g.
# `flags.signing_key`, else `audit.signing_key`) and a purpose, so one secret gives a
# different key to each log and kafkaops never stores key files of its own.

ED25519 = "ed25519"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


class RecordVerifier:
    """Checks Ed25519 signatures with a public key (what a reader holds)."""

    def __init__(self, public: bytes) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        if len(public) != 32:
            raise ValueError("an Ed25519 verify key is 32 bytes")
        self._key = Ed25519PublicKey.from_public_bytes(public)
        self.public = public

    @classmethod
    def from_text(cls, text: str) -> RecordVerifier:
        """The key as `kafkaops doctor` prints it (`ed25519:` and URL-safe base64); ValueError
        when it is not one."""
        body = text.strip()
        if body.startswith(ED25519 + ":"):
            body = body[len(ED25519) + 1:]
        try:
            raw = _unb64(body)
        except (ValueError, binascii.Error):
            raise ValueError("not an ed25519 verify key (expected ed25519:<base64>)") from None
        return cls(raw)

    @property
    def text(self) -> str:
        """The public key as text: `ed25519:<URL-safe base64>`."""
        return f"{ED25519}:{_b64(self.public)}"

    def verifies(self, message: bytes, sig: str | bytes | None) -> bool:
        """True when `sig` (text as `sign` makes it) is this key's signature of `message`."""
        from cryptography.exceptions import InvalidSignature

        if isinstance(sig, bytes):
            try:
                sig = sig.decode("ascii")
            except UnicodeDecodeError:
                return False
        if not sig:
            return False
        try:
            self._key.verify(_unb64(sig), message)
        except (InvalidSignature, ValueError, binascii.Error):
            return False
        return True


class RecordSigner:
    """Signs with the Ed25519 key derived from a secret and a purpose (what a writer holds)."""

    def __init__(self, secret: str | bytes, purpose: str) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        raw = secret.encode("utf-8") if isinstance(secret, str) else secret
        if not raw:
            raise ValueError("an empty secret signs nothing")
        seed = hashlib.sha256(b"kafkaops record signing\0" + purpose.encode() + b"\0" + raw)
        self._key = Ed25519PrivateKey.from_private_bytes(seed.digest())
        self.verifier = RecordVerifier(
            self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, message: bytes) -> str:
        """The signature of `message`, as URL-safe base64 text."""
        return _b64(self._key.sign(message))


def canonical(data: Mapping[str, Any]) -> bytes:
    """`data` as canonical JSON bytes (sorted keys, no spaces): what a signature covers."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def signer_from(secrets: Iterable[Secret], purpose: str) -> RecordSigner | None:
    """A signer from the first secret that is set (a log's own key, then audit's), for
    `purpose`; None when none is set (records unsigned)."""
    for secret in secrets:
        if secret.is_set:
            return RecordSigner(secret.reveal(), purpose)
    return None


def verifier_from(verify_key: str, where: str, signer: RecordSigner | None
                  ) -> RecordVerifier | None:
    """The configured public key (`where` names its config path in an error), else the
    public half of `signer`'s key; None: records unsigned."""
    from kafkaops.core.errors import ConfigError

    if verify_key:
        try:
            return RecordVerifier.from_text(verify_key)
        except ValueError as e:
            raise ConfigError(f"{where}: {e}") from None
    return signer.verifier if signer is not None else None
