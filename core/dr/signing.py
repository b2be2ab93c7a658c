"""Signed DR control records: who may say which cluster of a pair is active is whoever
holds the DR signing secret.

Every record kafkaops writes to `_kafkaops.control` carries an Ed25519 signature in the
`kafkaops-sig` header, over the record key and the SHA-256 of its value (the value names
the pair, the active cluster, the epoch, the run). Readers holding the public key (failover
and resume, `dr status`, the active-cluster follower) fold only records that verify: an
unsigned record, one whose value was altered, or a genuine record copied under another key
(another pair's, another run's) is ignored, logged once by offset, and never applied.
A genuine record copied from one cluster of a pair to the other verifies: both clusters
carry the same records by design, and the highest epoch wins either way.

Keys, the flags' rule: `dr.signing_key`, else `audit.signing_key`, with its own derived key
(purpose "dr-control"), so a flags signature never verifies as a control one; `dr.verify_key`
gives a follower the public key alone. Neither set: records are written and read unsigned.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

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
#: what the signing key is derived for (one secret gives each log its own key)
PURPOSE = "dr-control"
UNSIGNED_NOTE = ("DR control records are unsigned (neither dr.signing_key nor "
                 "audit.signing_key is set): anyone who can produce to _kafkaops.control can "
                 "name the active cluster of a pair")


#: why a record without a signature is not applied (`kafkaops dr resign` re-signs these)
UNSIGNED = "unsigned record (DR control records are signed): not applied"


def message(key: bytes, value: bytes | None) -> bytes:
    """What a control record's signature covers."""
    return canonical({
        "log": "kafkaops.control",
        "key": key.hex(),
        "value": None if value is None else hashlib.sha256(value).hexdigest(),
    })


def sign_headers(signer: RecordSigner, key: bytes, value: bytes | None) -> list[tuple[str, bytes]]:
    """The headers of a signed control record."""
    return [(H_SIG, signer.sign(message(key, value)).encode("ascii"))]


def check(verifier: RecordVerifier, key: bytes, value: bytes | None,
          headers: Iterable[tuple[str, bytes]]) -> str:
    """Why the record is not a signed control record ("" when its signature verifies)."""
    sig = next((v for k, v in headers if k == H_SIG), None)
    if sig is None:
        return UNSIGNED
    if not verifier.verifies(message(key, value), sig):
        return "signature does not verify (forged, altered or copied record): not applied"
    return ""


def signer_for(config: Config) -> RecordSigner | None:
    """dr.signing_key, else audit.signing_key; None when neither is set (unsigned)."""
    return signer_from((config.dr.signing_key, config.audit.signing_key), PURPOSE)


def verifier_for(config: Config) -> RecordVerifier | None:
    """dr.verify_key, else the public half of the signing key; None: records unsigned.
    ConfigError names a verify_key that is not one."""
    return verifier_from(config.dr.verify_key, f"{config.source}: dr.verify_key",
                         signer_for(config))
