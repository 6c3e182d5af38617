"""Password hashing (scrypt, a slow memory-hard KDF from the standard library) and API tokens."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

# scrypt N=2^15, r=8: 32 MiB and ~0.1 s per guess on a server core (OWASP's 2023 minimum is
# N=2^17 with r=8,p=1 or an equivalent; 2^15 keeps a login under 0.2 s on small VMs).
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_MAXMEM = 64 * 1024 * 1024
# 32 random bytes: 256 bits, beyond brute force, so a fast sha256 is enough to store tokens.
TOKEN_BYTES = 32
TOKEN_PREFIX = "lct_"  # noqa: S105 (the public prefix that marks our tokens, no secret)
MIN_PASSWORD_CHARS = 12


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, maxmem=_MAXMEM, dklen=32
    )
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=32,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


@functools.cache
def dummy_hash() -> str:
    """Checked against when the user does not exist, so a login takes as long either way."""
    return hash_password("no such user: constant-time refusal")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def random_password(nbytes: int = 18) -> str:
    return secrets.token_urlsafe(nbytes)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))
