"""How a webhook body is signed, and how a receiver checks it (docs/api.md, *Webhooks*): no I/O.

The signature is HMAC-SHA256, keyed with the subscription's secret, of ``"<timestamp>.<body>"``
(the timestamp in Unix seconds, the body's exact bytes). Signing the timestamp with the body
lets a receiver refuse a replayed request whose timestamp is older than ``REPLAY_WINDOW_S``.
"""

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

REPLAY_WINDOW_S = 300
PREFIX = "sha256="


def body_bytes(body: Mapping[str, Any]) -> bytes:
    """The bytes POSTed: compact JSON, so what is signed is exactly what is sent."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return PREFIX + mac.hexdigest()


def verify(secret: str, *, timestamp: str, body: bytes, signature_header: str, now: int) -> bool:
    """What a receiver does: a timestamp within the window, and the signature compared in
    constant time."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > REPLAY_WINDOW_S:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), signature_header)
