"""Sign-in: the user an Authorization header proves, at a bounded cost and without leaks.

- Tokens (Bearer, or Basic with a token as the password) are looked up by their sha256 on every
  request, so a revoked token or a deleted user stops working at once on every worker.
- Passwords cost one scrypt run whether or not the username exists, so timing does not tell
  which names are real. A verified (user, password) pair is remembered by a keyed digest that
  includes the stored hash, and the stored hash is read on every request: a deleted user or a
  changed password stops working at once, while a client sending Basic auth on every call does
  not pay scrypt each time.
- Failed sign-ins are counted per username and per client address; past the limit a minute the
  server answers 429 without running scrypt, and at most two scrypt runs go at once per process,
  so a flood of wrong passwords cannot starve the requests of users already signed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque

from perennia.entities import User
from perennia.errors import TooManyRequests
from perennia.security import TOKEN_PREFIX, verify_password
from perennia.store.base import ServerStore

WINDOW_SECONDS = 60.0
_REMEMBER_SECONDS = 600.0
_MAX_TRACKED = 50_000


class SignIn:
    """Authenticates requests against the store's users and tokens."""

    def __init__(self, store: ServerStore, max_failures: int = 10) -> None:
        self.store = store
        self.max_failures = max_failures
        self._secret = secrets.token_bytes(32)  # keys the remembered-pair digests
        self._verified: dict[bytes, float] = {}
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._hashing = threading.BoundedSemaphore(2)

    def authenticate(self, authorization: str | None, address: str | None) -> User | None:
        """Return the user the header proves, None when it proves nobody.

        Raises TooManyRequests when the username or the address failed too often lately.
        """
        if not authorization:
            return None
        scheme, _, credentials = authorization.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            return self.store.users.authenticate_token(credentials.strip())
        if scheme != "basic":
            return None
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError, binascii.Error):
            return None
        username, _, secret = decoded.partition(":")
        if secret.startswith(TOKEN_PREFIX):
            user = self.store.users.authenticate_token(secret)
            return user if user is not None and user.username == username else None
        return self._password(username, secret, address or "")

    def _password(self, username: str, password: str, address: str) -> User | None:
        record = self.store.users.password_record(username)
        user, stored = record if record is not None else (None, None)
        pair = None
        if stored:
            pair = hmac.new(
                self._secret, f"{username}\0{password}\0{stored}".encode(), hashlib.sha256
            ).digest()
            with self._lock:
                remembered = self._verified.get(pair)
            if remembered is not None and remembered > time.monotonic():
                return user
        keys = (f"user:{username}", f"address:{address}")
        if any(self._failed_lately(key) >= self.max_failures for key in keys):
            raise TooManyRequests(
                f"too many failed sign-ins for {username!r} or from this address; wait "
                f"{int(WINDOW_SECONDS)} s, or sign in with an API token"
            )
        with self._hashing:
            matched = verify_password(password, stored)
        if matched and user is not None and pair is not None:
            with self._lock:
                if len(self._verified) > _MAX_TRACKED:
                    self._verified.clear()
                self._verified[pair] = time.monotonic() + _REMEMBER_SECONDS
            return user
        for key in keys:
            self._fail(key)
        return None

    def _failed_lately(self, key: str) -> int:
        cutoff = time.monotonic() - WINDOW_SECONDS
        with self._lock:
            times = self._failures.get(key)
            while times and times[0] < cutoff:
                times.popleft()
            return len(times) if times else 0

    def _fail(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > _MAX_TRACKED:
                cutoff = now - WINDOW_SECONDS
                self._failures = {k: v for k, v in self._failures.items() if v and v[-1] >= cutoff}
            self._failures.setdefault(key, deque(maxlen=self.max_failures + 1)).append(now)
