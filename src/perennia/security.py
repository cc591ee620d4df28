"""Secrets: password hashes (scrypt) and API tokens (random, stored as sha256), compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
TOKEN_PREFIX = "prn_"


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of `password` as `scrypt$n$r$p$salt$hash`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


# Verified against when there is no stored hash (unknown user, token-only user), so a wrong
# guess costs the same scrypt run whether or not the username exists.
_DUMMY = f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${'00' * 16}${'00' * 64}"


def verify_password(password: str, stored: str | None) -> bool:
    """Return True when `password` matches the stored hash (constant-time comparison).

    Without a stored hash it still spends one scrypt run and returns False, so timing does not
    reveal which usernames exist.
    """
    if not stored:
        _matches(password, _DUMMY)
        return False
    return _matches(password, stored)


def _matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest.hex(), expected)


def new_token() -> str:
    """Return a new random API token secret."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(secret: str) -> str:
    """Return the sha256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
