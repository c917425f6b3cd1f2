"""Where published APEL messages go: an SSM outgoing directory queue, an S3 prefix laid out as one,
or ARGO AMS directly (tally.interop.apel.ams).

An SSM outgoing queue is a `dirq.QueueSimple` folder: `<8 hex digits>/<14 hex digits>` files, the
directory the add time in epoch seconds rounded down to a minute (dirq's default granularity), the
element name the seconds, five hex digits of microseconds and one more digit. The S3 outbox writes
objects under the same relative keys, so a site's ssmsend host moves them into its queue
(`aws s3 mv --recursive s3://<bucket>/<prefix>/<site>/ /var/spool/apel/outgoing/`) and ssmsend
reads them as its own. Lambda layers are built from wheels only and `dirq` ships an sdist, so only
the local queue imports `dirq`; the S3 outbox writes the layout itself (tests read it back with
`dirq`).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any, Protocol

#: dirq QueueSimple's default granularity: one directory per minute of adds.
_GRANULARITY_SECONDS = 60


class PublishError(RuntimeError):
    """Messages could not be handed on (AMS refused them, or the queue could not be written)."""


class Outbox(Protocol):
    """One published message in, its name or message id out."""

    @property
    def target(self) -> str: ...

    def add(self, text: str) -> str: ...


class DirqOutbox:
    """The SSM outgoing queue on this host, written with the `dirq` package as SSM's tools do."""

    def __init__(self, folder: Path) -> None:
        from dirq.QueueSimple import QueueSimple  # sdist-only: never imported on Lambda

        self._queue = QueueSimple(str(folder))
        self.target = str(folder)

    def add(self, text: str) -> str:
        name: str = self._queue.add(text)
        return name


class QueueNames:
    """Element names in dirq QueueSimple's form, increasing within one process so that a run's
    messages never collide and keep their order (ssmsend sends in name order)."""

    def __init__(self, clock: Any = time.time) -> None:
        self._clock = clock
        self._last = 0
        self._salt = itertools.cycle("0123456789abcdef")

    def next(self) -> str:
        micros = max(int(self._clock() * 1_000_000), self._last + 1)
        self._last = micros
        seconds, fraction = divmod(micros, 1_000_000)
        directory = seconds - seconds % _GRANULARITY_SECONDS
        return f"{directory:08x}/{seconds:08x}{fraction:05x}{next(self._salt)}"


class S3Outbox:
    """Messages as objects `<prefix>/<dir>/<element>` in a bucket, in the SSM queue's layout."""

    def __init__(self, client: Any, bucket: str, prefix: str, names: QueueNames | None = None) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix.strip("/")
        self._names = names or QueueNames()
        self.target = f"s3://{bucket}/{self._prefix}/"

    def add(self, text: str) -> str:
        name = self._names.next()
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=f"{self._prefix}/{name}",
                Body=text.encode(),
                ContentType="text/plain; charset=utf-8",
            )
        except Exception as exc:  # botocore's errors: the run fails and is retried by its schedule
            raise PublishError(f"could not write {self.target}{name}: {exc}") from exc
        return name


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> (bucket, "some/prefix")."""
    if not uri.startswith("s3://") or not uri[5:].split("/", 1)[0]:
        raise ValueError(f"not an s3://bucket/prefix URI: {uri!r}")
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, prefix.strip("/")
