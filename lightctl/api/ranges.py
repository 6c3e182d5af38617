"""HTTP validators and byte ranges for immutable, content-addressed files (RFC 9110 §13, §14).

Clips are named by their SHA-256, so the digest is a strong ETag that never changes: a CDN or a
lantern that holds the clip revalidates with ``If-None-Match`` and gets 304, and one that lost a
download half-way resumes it with ``Range`` (and ``If-Range``) instead of starting again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# Past every body we serve; longer digit strings are read as this, never handed to int() (which
# refuses more than 4,300 digits with a ValueError, a 500).
_HUGE = 10**18


def _position(digits: str) -> int:
    return _HUGE if len(digits) > 18 else int(digits)


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Inclusive first and last byte of a satisfiable range of a body of ``size`` bytes."""

    first: int
    last: int
    size: int

    @property
    def content_range(self) -> str:
        return f"bytes {self.first}-{self.last}/{self.size}"


class Unsatisfiable(ValueError):
    """A well-formed range that lies outside the body: 416."""


def etag_matches(header: str | None, etag: str) -> bool:
    """``If-None-Match``: ``*`` or a list of tags, weak ones compared weakly (RFC 9110 §13.1.2)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return etag in tags


def byte_range(header: str | None, size: int, if_range: str | None, etag: str) -> ByteRange | None:
    """The single range asked for, or None to answer the whole body.

    None also for what RFC 9110 lets a server ignore: several ranges, a malformed header, or an
    ``If-Range`` naming another version. Raises ``Unsatisfiable`` for a range past the end."""
    if header is None:
        return None
    if if_range is not None and if_range.strip() != etag:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first_s, last_s = match.groups()
    if not first_s and not last_s:
        return None
    if not first_s:  # a suffix: the last N bytes
        length = _position(last_s)
        if length == 0 or size == 0:
            raise Unsatisfiable(header)
        return ByteRange(max(size - length, 0), size - 1, size)
    first = _position(first_s)
    if first >= size:
        raise Unsatisfiable(header)
    last = _position(last_s) if last_s else size - 1
    if last < first:
        return None  # invalid: ignored, the whole body
    return ByteRange(first, min(last, size - 1), size)
