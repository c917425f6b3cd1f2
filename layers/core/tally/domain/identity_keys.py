"""The keys by which the control store knows a record was counted: the record's partition day, then
a digest of its kind, site, resource and identity.

Why the day first: a store that keeps the keys in a B-tree (SQLite) then inserts a batch's keys into
the few index pages of the days it holds, instead of into nearly every page of the index, as purely
random digests did. The day is a function of the identity (each kind's partition time is one of its
identity fields), so one record always gets one key and deduplication is unchanged.

A store that hashes its keys (DynamoDB) gains nothing from the day and keeps the digest alone, as it
always has (`digest_of`), so its stored items need no migration.
"""

from __future__ import annotations

#: Bytes of the day prefix: big-endian days since 1970-01-01, offset so earlier days sort first too.
DAY_BYTES = 4
DAY_OFFSET = 1 << 31
#: Bytes of the digest after it (a key stored before the day prefix existed is this digest alone).
DIGEST_BYTES = 16


def digest_of(key: bytes) -> bytes:
    """The digest part of a key (a digest alone is its own digest part)."""
    return key[-DIGEST_BYTES:]


def day_prefix(days_since_epoch: int) -> bytes:
    return (days_since_epoch + DAY_OFFSET).to_bytes(DAY_BYTES, "big")
