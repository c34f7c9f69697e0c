"""The caller's identity as the gateway vouches for it.

The gateway authenticates the API key, then passes who the caller is to the service in
``x-pentad-*`` headers signed with HMAC-SHA256 over the method, the request target (path
and query, as sent), the time, the request id and the identity. The body is not signed:
the signature stops a caller that reaches a service port from being anyone; traffic
between pods is for the network layer (mTLS) to protect.
A service refuses (401) any call whose signature is missing, wrong or too old, so calling
a service port directly bypasses nothing. Services calling each other sign the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    staff = "staff"
    provider = "provider"
    facilitator = "facilitator"


@dataclass(frozen=True, slots=True)
class Caller:
    key_id: str
    role: Role
    stakeholder_id: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.admin, Role.staff)


H_KEY_ID = "x-pentad-key-id"
H_ROLE = "x-pentad-role"
H_STAKEHOLDER = "x-pentad-stakeholder"
H_TS = "x-pentad-ts"
H_SIGNATURE = "x-pentad-signature"
IDENTITY_HEADERS = frozenset({H_KEY_ID, H_ROLE, H_STAKEHOLDER, H_TS, H_SIGNATURE})
_IDENTITY_HEADERS_B = frozenset(h.encode() for h in IDENTITY_HEADERS)


def _mac(secret: bytes, method: str, path: str, ts: str, caller: Caller, request_id: str) -> str:
    msg = "\n".join((method, path, ts, caller.key_id, caller.role.value,
                     caller.stakeholder_id or "", request_id))
    return hmac.new(secret, msg.encode(), hashlib.sha256).hexdigest()


def sign(secret: bytes, *, method: str, path: str, caller: Caller, request_id: str,
         now: float | None = None) -> list[tuple[str, str]]:
    """Headers that vouch for ``caller`` on one call; ``path`` is the target as sent, query included."""
    ts = str(int(now if now is not None else time.time()))
    headers = [(H_KEY_ID, caller.key_id), (H_ROLE, caller.role.value), (H_TS, ts),
               (H_SIGNATURE, _mac(secret, method, path, ts, caller, request_id))]
    if caller.stakeholder_id:
        headers.append((H_STAKEHOLDER, caller.stakeholder_id))
    return headers


class BadSignature(Exception):
    pass


def verify(secret: bytes, *, method: str, path: str, headers: dict[str, str], request_id: str,
           max_age: int, now: float | None = None) -> Caller:
    """The caller the headers vouch for, or ``BadSignature`` saying why not."""
    sig, ts, key_id, role = (headers.get(h) for h in (H_SIGNATURE, H_TS, H_KEY_ID, H_ROLE))
    if not (sig and ts and key_id and role):
        raise BadSignature("missing identity signature")
    try:
        caller = Caller(key_id, Role(role), headers.get(H_STAKEHOLDER) or None)
        age = abs((now if now is not None else time.time()) - int(ts))
    except ValueError:
        raise BadSignature("malformed identity headers") from None
    if age > max_age:
        raise BadSignature("identity signature expired")
    if not hmac.compare_digest(sig, _mac(secret, method, path, ts, caller, request_id)):
        raise BadSignature("identity signature does not match")
    return caller


def strip_identity(raw_headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Drop any identity header a client sent itself: only the gateway may set them."""
    return [(k, v) for k, v in raw_headers if k.lower() not in _IDENTITY_HEADERS_B]
