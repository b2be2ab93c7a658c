"""Signed flag records: who may change a flag is whoever holds the flags signing secret.

Every record kafkaops writes to `_kafkaops.flags` carries an Ed25519 signature in the
`kafkaops-sig` header, over the record key, the SHA-256 of its value and every kafkaops
header (expects, write id, op, by, at, reason). Readers holding the public key (the CLI,
console and bot derive it from the secret; a service's SDK is given it as `verify_key`)
apply only records that verify: an unsigned record, one whose value or headers were
altered, or a genuine record copied under another flag's key is ignored, logged once by
offset, and never applied.

Keys, the same rule as pending confirmations (kafkaops.core.confirmations.signing_key):
`flags.signing_key`, else `audit.signing_key`; `flags.verify_key` gives a reader the public
key alone. Neither set: records are written and read unsigned, as before, and the faces say
so. Loads no Kafka client and no audit code (the SDK uses it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from kafkaops.core.flags.model import (
    H_AT,
    H_BY,
    H_EXPECTS,
    H_OP,
    H_REASON,
    H_WRITE_ID,
)
from kafkaops.core.statelog.signing import (
    RecordSigner,
    RecordVerifier,
    canonical,
    signer_from,
    verifier_from,
)

if TYPE_CHECKING:
    from kafkaops.core.config import Config

#: header carrying the signature
H_SIG = "kafkaops-sig"
#: headers a signature covers (the first of each name, as readers take it)
SIGNED_HEADERS = (H_EXPECTS, H_WRITE_ID, H_OP, H_BY, H_AT, H_REASON)
#: what the signing key is derived for (one secret gives each log its own key)
PURPOSE = "flags"
UNSIGNED_NOTE = ("flag records are unsigned (neither flags.signing_key nor audit.signing_key "
                 "is set): anyone who can produce to the flags topic can change a flag")


def message(key: bytes, value: bytes | None, headers: Iterable[tuple[str, bytes]]) -> bytes:
    """What a flag record's signature covers."""
    first: dict[str, str] = {}
    for name, raw in headers:
        if name in SIGNED_HEADERS and name not in first:
            first[name] = bytes(raw).hex()
    return canonical({
        "log": "kafkaops.flags",
        "key": key.hex(),
        "value": None if value is None else hashlib.sha256(value).hexdigest(),
        "headers": first,
    })


def signed_headers(signer: RecordSigner, key: bytes, value: bytes | None,
                   headers: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """`headers` with the signature header added."""
    return [*headers, (H_SIG, signer.sign(message(key, value, headers)).encode("ascii"))]


def check(verifier: RecordVerifier, key: bytes, value: bytes | None,
          headers: Iterable[tuple[str, bytes]]) -> str:
    """Why the record is not a signed write ("" when its signature verifies)."""
    headers = list(headers)
    sig = next((v for k, v in headers if k == H_SIG), None)
    if sig is None:
        return "unsigned record (flags are signed): not applied"
    if not verifier.verifies(message(key, value, headers), sig):
        return "signature does not verify (forged, altered or copied record): not applied"
    return ""


def signer_for(config: Config) -> RecordSigner | None:
    """flags.signing_key, else audit.signing_key; None when neither is set (unsigned)."""
    return signer_from((config.flags.signing_key, config.audit.signing_key), PURPOSE)


def verifier_for(config: Config) -> RecordVerifier | None:
    """flags.verify_key, else the public half of the signing key; None: records unsigned.
    ConfigError names a verify_key that is not one."""
    return verifier_from(config.flags.verify_key, f"{config.source}: flags.verify_key",
                         signer_for(config))
