"""The console's session: the signed-in API key, encrypted into an HttpOnly cookie.

The cookie holds AES-GCM ciphertext under a key derived from ``PENTAD_SECRET``, so the raw
API key is never readable from the cookie (nor by page scripts: HttpOnly), and a cookie
that was tampered with or made under another secret simply does not open. Each session has a
random id inside the sealed cookie; signing out records that id as ended in the gateway's
database (``signouts.py``), which every replica checks, so a copy of the cookie taken before
sign-out is refused everywhere. Nothing else is kept server-side.

CSRF: each session carries a random token that every form posts back; the sign-in form,
before any session exists, posts back an HMAC of a random pre-session cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SESSION_COOKIE = "pentad_console"
LOGIN_COOKIE = "pentad_console_login"
COOKIE_PATH = "/console"
SESSION_SECONDS = 8 * 3600  # a working day
_NONCE = 12


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    id: str  # random, for sign-out to end this session everywhere (signouts.py)
    key: str  # the API key every call of this session is made with
    role: str
    csrf: str
    expires_at: float


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return hmac.new(secret, b"pentad-console/" + purpose, hashlib.sha256).digest()


class Sessions:
    """Seals and opens session cookies, and makes and checks CSRF tokens."""

    def __init__(self, secret: bytes) -> None:
        self._aead = AESGCM(_derive(secret, b"session-v1"))
        self._login = _derive(secret, b"login-csrf-v1")

    def new(self, *, key: str, role: str, now: float | None = None) -> ConsoleSession:
        return ConsoleSession(id=secrets.token_urlsafe(18), key=key, role=role, csrf=secrets.token_urlsafe(24),
                              expires_at=(now or time.time()) + SESSION_SECONDS)

    def seal(self, session: ConsoleSession) -> str:
        nonce = secrets.token_bytes(_NONCE)
        plain = json.dumps({"i": session.id, "k": session.key, "r": session.role, "c": session.csrf,
                            "e": session.expires_at})
        sealed = nonce + self._aead.encrypt(nonce, plain.encode(), SESSION_COOKIE.encode())
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, cookie: str | None, *, now: float | None = None) -> ConsoleSession | None:
        """The session in the cookie; None when absent, tampered with, foreign or expired.

        Whether it was signed out is the database's to say (``signouts.ended``)."""
        if not cookie or len(cookie) > 4096:
            return None
        try:
            sealed = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
            plain = self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], SESSION_COOKIE.encode())
            data = json.loads(plain)
            session = ConsoleSession(id=str(data["i"]), key=str(data["k"]), role=str(data["r"]),
                                     csrf=str(data["c"]), expires_at=float(data["e"]))
        except (ValueError, InvalidTag, KeyError, TypeError):
            return None
        return session if session.expires_at > (now or time.time()) else None

    def login_token(self, nonce: str) -> str:
        """The sign-in form's CSRF token for the pre-session cookie ``nonce``."""
        return hmac.new(self._login, nonce.encode(), hashlib.sha256).hexdigest()

    def login_token_ok(self, nonce: str | None, token: str | None) -> bool:
        return bool(nonce and token) and hmac.compare_digest(self.login_token(nonce or ""), token or "")


def csrf_ok(session: ConsoleSession, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(session.csrf, token or "")
