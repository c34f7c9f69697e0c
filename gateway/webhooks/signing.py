"""Signatures per the Standard Webhooks specification (https://www.standardwebhooks.com).

The secret is ``whsec_`` + base64 of 32 random bytes; each message is signed with
HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}`` and the signature sent as
``webhook-signature: v1,<base64>``. Receivers verify with any Standard Webhooks library.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, msg_id=msg_id, timestamp=timestamp, body=body),
            "content-type": "application/json"}
