"""Signed records of a compare-and-set log: an HMAC-SHA256 over the record's JSON fields.

Anyone who can produce to a topic can write a record naming the next version; a log whose
records are signed applies only those that verify under the caller's key (a reader without
the key cannot tell, and such a log is not kept: the caller refuses to run without it).
The signature is one field of the record (`sig`) over every other field, in canonical JSON
(sorted keys, no spaces), so the record stays plain JSON for people reading the topic.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

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
