"""A value fetched from the provider, kept for a time-to-live, fetched by one thread at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from tally.auth.oidc.errors import OidcError

T = TypeVar("T")


class TtlCache(Generic[T]):
    """`get()` answers the cached value while it is younger than `ttl`, else fetches anew.

    When a fetch fails and a value is held, that value keeps being answered (a provider's blip
    must not sign everyone out) for at most one more `ttl`; meanwhile a new fetch is tried at most
    every `retry` (so an outage does not put a slow fetch in front of every request).
    """

    def __init__(
        self,
        fetch: Callable[[], T],
        *,
        ttl: timedelta,
        retry: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._retry = retry
        self._clock = clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._fetched_at: datetime | None = None
        self._failed_at: datetime | None = None
        self._failure: OidcError | None = None
        self._forced_at: datetime | None = None
        #: How many fetches were attempted (for tests and metrics).
        self.fetches = 0

    def get(self) -> T:
        with self._lock:
            now = self._clock()
            if self._value is not None and self._age(now) < self._ttl:
                return self._value
            if self._failed_at is not None and now - self._failed_at < self._retry:
                return self._stale_or_raise(now)
            return self._refresh(now)

    def refresh(self, *, min_interval: timedelta) -> tuple[T, bool]:
        """Fetch now, unless the last such forced fetch is younger than `min_interval` (then the
        value held); (value, whether it was fetched). Fetches on expiry do not count: a provider
        that rotated its keys just after Tally fetched them is followed at once."""
        with self._lock:
            now = self._clock()
            if self._forced_at is not None and now - self._forced_at < min_interval:
                if self._value is not None:
                    return self._value, False
                return self._stale_or_raise(now), False
            self._forced_at = now
            return self._refresh(now), True

    def _refresh(self, now: datetime) -> T:
        self.fetches += 1
        try:
            value = self._fetch()
        except OidcError as exc:
            self._failed_at, self._failure = now, exc
            return self._stale_or_raise(now, exc)
        self._value, self._fetched_at = value, now
        self._failed_at = self._failure = None
        return value

    def _age(self, now: datetime) -> timedelta:
        return now - self._fetched_at if self._fetched_at is not None else timedelta.max

    def _stale_or_raise(self, now: datetime, error: OidcError | None = None) -> T:
        if self._value is not None and self._age(now) < 2 * self._ttl:
            return self._value
        raise error or self._failure or OidcError("discovery_failed", "the provider could not be reached")
