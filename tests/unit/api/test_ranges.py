"""Clip validators and ranges: what lets a CDN or a lantern revalidate and resume (issue 14)."""

from __future__ import annotations

import pytest

from lightctl.api.ranges import ByteRange, Unsatisfiable, byte_range, etag_matches

ETAG = '"' + "a" * 64 + '"'


def test_if_none_match_matches_the_digest_weakly_in_a_list_or_star() -> None:
    assert etag_matches(ETAG, ETAG)
    assert etag_matches(f'"other", W/{ETAG}', ETAG)
    assert etag_matches("*", ETAG)
    assert not etag_matches('"other"', ETAG)
    assert not etag_matches(None, ETAG)


def test_a_single_range_is_served_and_the_rest_is_ignored_as_the_rfc_allows() -> None:
    assert byte_range("bytes=0-99", 1000, None, ETAG) == ByteRange(0, 99, 1000)
    assert byte_range("bytes=900-", 1000, None, ETAG) == ByteRange(900, 999, 1000)
    assert byte_range("bytes=-100", 1000, None, ETAG) == ByteRange(900, 999, 1000)
    assert byte_range("bytes=990-5000", 1000, None, ETAG) == ByteRange(990, 999, 1000)
    assert byte_range("bytes=0-1,5-9", 1000, None, ETAG) is None  # several: the whole body
    assert byte_range("lines=1-2", 1000, None, ETAG) is None
    assert byte_range("bytes=0-99", 1000, '"stale"', ETAG) is None  # If-Range: another version
    assert byte_range("bytes=0-99", 1000, ETAG, ETAG) == ByteRange(0, 99, 1000)
    assert ByteRange(0, 99, 1000).content_range == "bytes 0-99/1000"


def test_a_range_past_the_end_is_unsatisfiable() -> None:
    with pytest.raises(Unsatisfiable):
        byte_range("bytes=1000-", 1000, None, ETAG)
    with pytest.raises(Unsatisfiable):
        byte_range("bytes=-0", 1000, None, ETAG)


def test_positions_of_thousands_of_digits_are_read_as_far_past_the_end_not_a_crash() -> None:
    digits = "9" * 5000  # int() refuses strings this long: unguarded, a 500
    with pytest.raises(Unsatisfiable):
        byte_range(f"bytes={digits}-", 1000, None, ETAG)
    assert byte_range(f"bytes=10-{digits}", 1000, None, ETAG) == ByteRange(10, 999, 1000)
    assert byte_range(f"bytes=-{digits}", 1000, None, ETAG) == ByteRange(0, 999, 1000)
