"""Take in one APEL message: verify its signer, parse it, map it, and ingest it through the same
validation, site fencing, idempotency and quarantine as an agent's post (`IngestService`)."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from tally.adapters.warehouse import partition_key
from tally.domain.errors import MalformedBody, NotAllowed, Unusable
from tally.domain.ports import Warehouse
from tally.domain.record_lines import RecordLines
from tally.domain.records import RecordKind
from tally.interop.apel import smime
from tally.interop.apel.mapping import Mapped, kind_of, map_record
from tally.interop.apel.messages import MessageError, parse_message
from tally.interop.apel.settings import ApelSettings
from tally.interop.apel.values import FieldProblem
from tally.services.ingest import IngestResult, IngestService, Principal

log = logging.getLogger(__name__)

#: APEL's senders keep a message to 1,000 records (`apel/db/unloader.py`) and SSM to about 1 MB;
#: larger messages are the sender's business, so they are taken in but counted.
SENDER_RECORDS = 1000
SENDER_BYTES = 1_000_000
ASIDE_PREFIX = "apel_aside"


@dataclass
class ApelImport:
    message_type: str
    kind: str
    site: str
    records: int
    bytes: int
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[dict[str, object]] = field(default_factory=list)
    # Which sender limits the message exceeded ("records", "bytes"): accepted, but counted.
    over_sender_limits: list[str] = field(default_factory=list)
    # Keys Tally has no field for, with how many records carried each; kept under apel_aside/.
    kept_aside: dict[str, int] = field(default_factory=dict)
    signer: str | None = None
    batch_id: str | None = None
    replayed: bool = False
    keys: list[str] = field(default_factory=list)


class ApelService:
    def __init__(self, ingest: IngestService, warehouse: Warehouse, settings: ApelSettings) -> None:
        self.ingest = ingest
        self.warehouse = warehouse
        self.settings = settings

    def import_message(self, data: bytes, who: Principal, now: datetime | None = None) -> ApelImport:
        now = now or datetime.now(UTC)
        size = len(data)
        signer = None
        if smime.is_smime(data):
            signed = smime.verify(data, self.settings.ca_file if who.site in self.settings.signers else None)
            data, signer = signed.content, signed.signer_dn
        self._check_signer(who.site, signer)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedBody(
                f"the message is not UTF-8: invalid byte 0x{data[exc.start]:02x} at offset {exc.start}"
            ) from exc
        start = text.lstrip("\ufeff \t\r\n")[:1]
        if start == "<":
            result = self._agent_format(text, "star", "storage", who, now)
        elif start == "{":
            result = self._agent_format(text, "apel-accelerator", "accelerators", who, now)
        else:
            result = self._text_message(text, data, who, now)
        result.bytes, result.signer = size, signer
        if result.records > SENDER_RECORDS:
            result.over_sender_limits.append("records")
        if size > SENDER_BYTES:
            result.over_sender_limits.append("bytes")
        if result.over_sender_limits:
            log.warning(
                "APEL message from site %s over the sender limits (%s): %d records, %d bytes",
                who.site,
                ", ".join(result.over_sender_limits),
                result.records,
                size,
            )
        return result

    def _check_signer(self, site: str, signer: str | None) -> None:
        allowed = self.settings.signers.get(site)
        if allowed is None:
            return
        if signer is None:
            raise NotAllowed(f"site {site!r} accepts S/MIME-signed APEL messages only")
        if signer not in {smime.normalise_dn(dn) for dn in allowed}:
            raise NotAllowed(f"signer {signer!r} is not on site {site!r}'s list of APEL signers")

    # -- the APEL text formats -------------------------------------------------------------------

    def _text_message(self, text: str, data: bytes, who: Principal, now: datetime) -> ApelImport:
        try:
            message = parse_message(text)
        except MessageError as exc:
            raise Unusable(str(exc)) from None
        if not message.records:
            raise Unusable(f"the {message.header} message holds no records")
        kind = kind_of(message.family)
        digest = hashlib.sha256(data).hexdigest()[:32]
        mapped: list[tuple[int, Mapped]] = []
        problems: list[dict[str, object]] = []
        quarantined: list[bytes] = []
        aside: list[bytes] = []
        kept: Counter[str] = Counter()
        for raw in message.records:
            try:
                item = map_record(message.family, message.header, raw)
            except FieldProblem as problem:
                error: dict[str, object] = {
                    "record": raw.index,
                    "field": problem.field,
                    "message": problem.reason,
                }
                problems.append(error)
                quarantined.append(
                    orjson.dumps(
                        {
                            "batch_id": digest,
                            "site": who.site,
                            "kind": kind,
                            "index": raw.index,
                            "received_at": _z(now),
                            "errors": [{"field": problem.field, "message": problem.reason}],
                            "format": message.header,
                            "record": raw.text,
                        }
                    )
                )
                continue
            mapped.append((raw.index, item))
            if item.aside:
                kept.update(item.aside.keys())
                aside.append(
                    orjson.dumps(
                        {
                            "site": who.site,
                            "kind": kind,
                            "index": raw.index,
                            "format": message.header,
                            "fields": item.aside,
                        }
                    )
                )
        result = ApelImport(message.header, kind, who.site, len(message.records), len(data))
        if quarantined:
            key = partition_key(f"quarantine/{kind}", now.date(), f"apel-{digest}.ndjson")
            self.warehouse.put_bytes(key, b"\n".join(quarantined) + b"\n")
            result.keys.append(key)
        if aside:
            key = partition_key(ASIDE_PREFIX, now.date(), f"{digest}.ndjson")
            self.warehouse.put_bytes(key, b"\n".join(aside) + b"\n")
            result.keys.append(key)
        result.kept_aside = dict(sorted(kept.items()))
        self._ingest(kind, [(i, m.record) for i, m in mapped], who, now, result)
        result.errors = sorted(
            problems + result.errors, key=lambda e: (int(str(e["record"])), str(e["field"]))
        )
        result.rejected = len({e["record"] for e in result.errors})
        return result

    def _ingest(
        self,
        kind: RecordKind,
        records: list[tuple[int, dict[str, object]]],
        who: Principal,
        now: datetime,
        result: ApelImport,
    ) -> None:
        if not records:
            return
        lines = RecordLines(b"\n".join(orjson.dumps(r) for _, r in records), len(records))
        batch: IngestResult = self.ingest.ingest(kind, lines, who, now)
        result.batch_id, result.replayed = batch.batch_id, batch.replayed
        result.accepted, result.duplicates = batch.accepted, batch.duplicates
        result.keys.extend(batch.keys)
        for error in batch.errors:
            index = error.get("index")
            record = records[index][0] if isinstance(index, int) and 0 <= index < len(records) else index
            result.errors.append(
                {"record": record, "field": error.get("field"), "message": error.get("message")}
            )

    # -- StAR and the accelerator message: the agent's own parsers ---------------------------------

    def _agent_format(
        self, text: str, source: str, kind: RecordKind, who: Principal, now: datetime
    ) -> ApelImport:
        from tally_agent.context import ParseContext
        from tally_agent.sources.gpu import parse_apel_message
        from tally_agent.sources.storage import parse_star

        ctx = ParseContext(site=who.site, resource=who.resources[0] if who.resources else who.site)
        parse = parse_star if source == "star" else parse_apel_message
        records = list(parse(text.splitlines(keepends=True), ctx))
        label = "StAR" if source == "star" else "APEL-accelerator-message"
        if not records:
            first = ctx.stats.problems[0][2] if ctx.stats.problems else "nothing in it is one"
            raise Unusable(f"the body is no {label} document with records: {first[:200]}")
        result = ApelImport(label, kind, who.site, len(records) + ctx.stats.errors, 0)
        if ctx.stats.problems:
            digest = hashlib.sha256(text.encode()).hexdigest()[:32]
            entries = [
                orjson.dumps(
                    {
                        "batch_id": digest,
                        "site": who.site,
                        "kind": kind,
                        "index": None,
                        "received_at": _z(now),
                        "errors": [{"field": None, "message": f"line {line}: {message}"}],
                        "format": label,
                    }
                )
                for _, line, message in ctx.stats.problems
            ]
            key = partition_key(f"quarantine/{kind}", now.date(), f"apel-{digest}.ndjson")
            self.warehouse.put_bytes(key, b"\n".join(entries) + b"\n")
            result.keys.append(key)
        result.errors = [
            {"record": None, "field": None, "message": f"line {line}: {message}"}
            for _, line, message in ctx.stats.problems
        ]
        self._ingest(kind, list(enumerate(records)), who, now, result)
        result.rejected = ctx.stats.errors + len(
            {e["record"] for e in result.errors if e["record"] is not None}
        )
        return result


def _z(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
