"""Write APEL messages: a header line, `Key: Value` records each ended by `%%` (APEL
`Record.get_msg` and `unloader._write_apel`), and StAR XML (`unloader._write_xml`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from xml.etree import ElementTree as ET

from tally.interop.apel.values import epoch_seconds

NORMALISED_SUMMARY_HEADER = "APEL-normalised-summary-message: v0.4"
SYNC_HEADER = "APEL-sync-message: v0.1"
CLOUD_SUMMARY_HEADER = "APEL-cloud-summary-message: v0.4"
STAR_NS = "http://eu-emi.eu/namespaces/2011/02/storagerecord"

Value = str | int | float | datetime | dict[str, float] | None


def _text(value: Value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return str(epoch_seconds(value))
    if isinstance(value, dict):
        # v0.4 maps: `{HEPscore23: 1234}` (APEL get_msg writes `{<type>: <value>}`).
        return "{" + ", ".join(f"{k}: {_number(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return _number(value)
    text = str(value)
    return text if text.strip() else None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def record_text(fields: Sequence[tuple[str, Value]]) -> str:
    """One record; a field without a value gets no line, as APEL writes it."""
    lines = [f"{key}: {text}" for key, value in fields if (text := _text(value)) is not None]
    return "\n".join(lines) + "\n"


def messages(header: str, records: Iterable[Sequence[tuple[str, Value]]], per_message: int) -> Iterator[str]:
    """Messages of at most `per_message` records each."""
    batch: list[str] = []
    for record in records:
        batch.append(record_text(record))
        if len(batch) == per_message:
            yield _message(header, batch)
            batch = []
    if batch:
        yield _message(header, batch)


def _message(header: str, records: list[str]) -> str:
    return header + "\n" + "%%\n".join(records) + "%%\n"


def star_messages(records: Iterable[dict[str, object]], per_message: int) -> Iterator[str]:
    batch: list[dict[str, object]] = []
    for record in records:
        batch.append(record)
        if len(batch) == per_message:
            yield _star(batch)
            batch = []
    if batch:
        yield _star(batch)


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _star(records: list[dict[str, object]]) -> str:
    """A StAR `StorageUsageRecords` document (element names from EMI StAR 1.0, as APEL writes)."""
    ET.register_namespace("sr", STAR_NS)

    def q(name: str) -> str:
        return f"{{{STAR_NS}}}{name}"

    root = ET.Element(q("StorageUsageRecords"))
    for r in records:
        element = ET.SubElement(root, q("StorageUsageRecord"))
        identity = ET.SubElement(element, q("RecordIdentity"))
        identity.set(q("createTime"), _iso(r["end_time"]))
        identity.set(q("recordId"), str(r.get("record_id") or _record_id(r)))
        for name, key in (
            ("StorageSystem", "storage_system"),
            ("Site", "site"),
            ("StorageShare", "storage_share"),
            ("StorageMedia", "storage_media"),
            ("StorageClass", "storage_class"),
            ("FileCount", "file_count"),
            ("DirectoryPath", "path"),
        ):
            if r.get(key) not in (None, ""):
                ET.SubElement(element, q(name)).text = str(r[key])
        subject = ET.SubElement(element, q("SubjectIdentity"))
        for name, key in (("LocalUser", "owner"), ("LocalGroup", "group"), ("Group", "vo")):
            if r.get(key) not in (None, ""):
                ET.SubElement(subject, q(name)).text = str(r[key])
        for attribute, key in (("subgroup", "vo_group"), ("role", "vo_role")):
            if r.get(key):
                sub = ET.SubElement(subject, q("GroupAttribute"))
                sub.set(q("attributeType"), attribute)
                sub.text = str(r[key])
        if r.get("start_time") is not None:
            ET.SubElement(element, q("StartTime")).text = _iso(r["start_time"])
        ET.SubElement(element, q("EndTime")).text = _iso(r["end_time"])
        for name, key in (
            ("ResourceCapacityUsed", "used_bytes"),
            ("LogicalCapacityUsed", "logical_used_bytes"),
            ("ResourceCapacityAllocated", "allocated_bytes"),
        ):
            if r.get(key) is not None:
                ET.SubElement(element, q(name)).text = str(r[key])
    ET.indent(root)  # one element a line, as APEL writes it (and as line-wise readers expect)
    return '<?xml version="1.0" ?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _record_id(r: dict[str, object]) -> str:
    parts = (
        r.get("site"),
        r.get("storage_system"),
        r.get("storage_share"),
        r.get("path"),
        r.get("owner"),
        _iso(r["end_time"]),
    )
    return "/".join(str(p or "") for p in parts)
