"""OpenStack Nova notifications (`compute.instance.*`) turned into VM sessions, as `vms` records.

A private cloud is accounted from the events Nova already sends (the stream XDMoD's cloud realm
ingests), without an agent inside every VM. Input: notifications as JSON, one per line (a
notification log or a queue dump) or as a JSON array, each the oslo.messaging message
(`event_type`, `timestamp`, `payload`) or its `oslo.message` envelope. Legacy (unversioned)
payloads (`instance_id`, `instance_type`, `vcpus`, `memory_mb`, ...) and versioned ones
(`instance.*`, `nova_object.data` with a `flavor`) are both read.

Sessions: a VM runs from `create`/`power_on`/`resume`/`unpause`/`unshelve`/`restore` `.end`
until `power_off`/`shutdown`/`suspend`/`pause`/`shelve`/`shelve_offload`/`soft_delete`/`delete` `.end`. A
resize (`finish_resize.end`, `resize.revert.end`, `resize.confirm.end`) or any other `.end`
event that reports another flavour splits the running session there: the time before is
accounted at the old size, the time after at the new one. Events are put in time order first.

Records: each session is cut at UTC midnight, one `vms` record per VM and day piece, with
`measurement` = "events": vCPUs, memory, flavour (`instance_type`), project (`account` and
`project`: the tenant id), user (`global_user`: the Keystone user id), name and image;
`boot_time` is when the session began, `uptime_seconds` the running time at the interval end.
CPU counters are not measured (`cpu_busy_seconds` 0). Where the input does not say when a
session began (its first event for a VM is not a start, yet shows it running), the session is
counted from the first event of the input, with a warning; a session still running at the end
of the input is cut at its last event (a longer input from the same first event gives the same
day pieces, which replace the shorter copies; inputs must not overlap in time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Dict, Iterable, Iterator, List, Optional, Set

from tally_agent.context import ParseContext
from tally_agent.inputs import by_file
from tally_agent.sources import jsonstream
from tally_agent.timeutil import iso_z, parse_iso_z
from tally_agent.units import UnitError

SOURCE = "openstack"
STARTS = frozenset(("create", "power_on", "resume", "unpause", "unshelve", "restore"))
ENDS = frozenset(
    ("power_off", "shutdown", "suspend", "pause", "shelve", "shelve_offload", "soft_delete", "delete")
)
_MIB = 1024**2
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Flavour:
    name: Optional[str]
    vcpus: int
    memory_bytes: Optional[int]


@dataclass(frozen=True)
class Event:
    """What a notification says about one instance, reduced to what sessions need."""

    time: datetime
    order: int  # input order, to keep events of the same instant in sequence
    line_no: int
    action: str  # `power_off`, `resize.confirm`, ... (`compute.instance.`/`instance.` and `.end` removed)
    instance_id: str
    tenant_id: str
    user_id: Optional[str]
    name: Optional[str]
    image_id: Optional[str]
    flavour: Optional[Flavour]
    running: Optional[bool]  # the state the payload reports after the event, when it says


@dataclass
class Session:
    event: Event  # the latest event of the session (identity fields)
    began: datetime  # when the VM started running
    since: datetime  # when the current flavour began
    flavour: Flavour


def parse(lines: Iterable[str], ctx: ParseContext) -> Iterator[Dict[str, Any]]:
    """`vms` records of the VM sessions the notifications describe."""
    stats = ctx.stats
    events: List[Event] = []
    for name, file_lines in by_file(lines):
        where = "" if name == "-" else f"{name}: "
        values = jsonstream.JsonValues(file_lines, stats, SOURCE)
        for line_no, value in values:
            try:
                event = _event(value, len(events), line_no)
            except (UnitError, ValueError, TypeError, KeyError) as exc:
                stats.error(SOURCE, line_no, f"{where}{exc}")
                continue
            if event is None:
                stats.count("events_ignored")  # a notification, but not an instance's `.end`
                stats.recognised += 1
                continue
            stats.count("events")
            events.append(event)
        stats.recognised += values.empty_lists
    if not events:
        return
    events.sort(key=lambda e: (e.time, e.order))
    first, last = events[0].time, events[-1].time
    region = ctx.options.get("region") or None
    sessions: Dict[str, Session] = {}
    seen: Set[str] = set()
    for event in events:
        key = event.instance_id
        session = sessions.get(key)
        if session is None and key not in seen and (event.action in ENDS or _runs_on(event)):
            # Its first event shows it running: it ran since before the input began.
            flavour = event.flavour
            if flavour is not None:
                stats.count("sessions_from_input_start")
                stats.warn(
                    SOURCE, event.line_no, f"instance {key}: no start event, counted from {iso_z(first)}"
                )
                session = sessions[key] = Session(event, first, first, flavour)
        seen.add(key)
        if event.action in STARTS:
            if session is None:
                if event.flavour is None:
                    stats.error(SOURCE, event.line_no, f"instance {key}: start event without vCPUs")
                    continue
                sessions[key] = Session(event, event.time, event.time, event.flavour)
            continue
        if session is None:
            continue
        if event.action in ENDS:
            yield from _pieces(session, event.time, ctx, region)
            del sessions[key]
            continue
        if event.flavour is not None and event.flavour != session.flavour:
            # A resize: the time so far at the old size, from here on the new one.
            stats.count("resizes")
            yield from _pieces(session, event.time, ctx, region)
            session.since, session.flavour = event.time, event.flavour
        session.event = event
    for session in sessions.values():
        yield from _pieces(session, last, ctx, region)


def _runs_on(event: Event) -> bool:
    return event.running is True and event.action not in STARTS


def _pieces(
    session: Session, until: datetime, ctx: ParseContext, region: Optional[str]
) -> Iterator[Dict[str, Any]]:
    """The session from its current flavour's start to `until`, cut at UTC midnight."""
    start = session.since
    while start < until:
        midnight = datetime(start.year, start.month, start.day, tzinfo=start.tzinfo) + _DAY
        end = min(midnight, until)
        ctx.stats.records += 1
        yield _record(session, start, end, ctx, region)
        start = end


def _record(
    session: Session, start: datetime, end: datetime, ctx: ParseContext, region: Optional[str]
) -> Dict[str, Any]:
    event, flavour = session.event, session.flavour
    record: Dict[str, Any] = {
        "site": ctx.site,
        "resource": ctx.resource,
        "provider": "openstack",
        "account": event.tenant_id,
        "region": region,
        "instance_id": event.instance_id,
        "instance_type": flavour.name,
        "image_id": event.image_id,
        "vm_name": event.name,
        "project": event.tenant_id,
        "global_user": event.user_id,
        "interval_start": iso_z(start),
        "interval_end": iso_z(end),
        "boot_time": iso_z(session.began),
        "uptime_seconds": int((end - session.began).total_seconds()),
        "cpu_busy_seconds": 0.0,
        "vcpus": flavour.vcpus,
        "memory_bytes": flavour.memory_bytes,
        "state": "running",
        "measurement": "events",
        "benchmark_type": ctx.benchmark_type if ctx.benchmark_per_core else None,
        "benchmark_per_core": ctx.benchmark_per_core if ctx.benchmark_type else None,
    }
    return {k: v for k, v in record.items() if v is not None and v != ""}


def _event(value: Any, order: int, line_no: int) -> Optional[Event]:
    """The instance event of one notification; None for notifications that are not one."""
    if not isinstance(value, dict):
        raise UnitError(f"not a notification: {type(value).__name__}")
    if isinstance(value.get("oslo.message"), str):
        value = json.loads(value["oslo.message"])
        if not isinstance(value, dict):
            raise UnitError("oslo.message is not a notification")
    event_type = value.get("event_type")
    if not isinstance(event_type, str) or "timestamp" not in value:
        raise UnitError("not a notification (no event_type or timestamp)")
    action = _action(event_type)
    if action is None:
        return None
    payload = value.get("payload")
    if not isinstance(payload, dict):
        raise UnitError(f"{event_type} without a payload")
    versioned = isinstance(payload.get("nova_object.data"), dict)
    data: Dict[str, Any] = payload["nova_object.data"] if versioned else payload
    instance_id = data.get("uuid") if versioned else data.get("instance_id")
    tenant_id = data.get("tenant_id")
    if not instance_id or not tenant_id:
        raise UnitError(f"{event_type} without instance id or tenant id")
    return Event(
        time=_time(value["timestamp"]),
        order=order,
        line_no=line_no,
        action=action,
        instance_id=str(instance_id),
        tenant_id=str(tenant_id),
        user_id=_opt(data.get("user_id")),
        name=_opt(data.get("display_name")),
        image_id=_image(data),
        flavour=_flavour(data, versioned),
        running=_running(data),
    )


def _action(event_type: str) -> Optional[str]:
    for prefix in ("compute.instance.", "instance."):
        if not event_type.startswith(prefix):
            continue
        action = event_type[len(prefix) :]
        if action == "exists":  # the periodic audit event: shows a VM running, changes nothing
            return action
        if action.endswith(".end"):
            return action[: -len(".end")]
    return None


def _time(value: Any) -> datetime:
    """oslo's `2024-05-01 10:00:00.123456` (UTC) or ISO 8601 with a zone."""
    if not isinstance(value, str):
        raise UnitError(f"bad timestamp {value!r}")
    text = value.strip().replace(" ", "T", 1)
    head, dot, fraction = text.partition(".")
    if dot:  # Python 3.9 reads only 3 or 6 fraction digits: drop them (the second is enough)
        zone = "".join(c for c in fraction if not c.isdigit())
        text = head + zone
    try:
        return parse_iso_z(text)
    except ValueError:
        raise UnitError(f"bad timestamp {value!r}") from None


def _flavour(data: Dict[str, Any], versioned: bool) -> Optional[Flavour]:
    if versioned:
        flavor = data.get("flavor")
        if isinstance(flavor, dict) and isinstance(flavor.get("nova_object.data"), dict):
            flavor = flavor["nova_object.data"]
        if not isinstance(flavor, dict):
            return None
        name, vcpus, memory = flavor.get("name"), flavor.get("vcpus"), flavor.get("memory_mb")
    else:
        name, vcpus, memory = data.get("instance_type"), data.get("vcpus"), data.get("memory_mb")
    if vcpus is None:
        return None
    if isinstance(vcpus, bool) or not isinstance(vcpus, int) or vcpus < 1:
        raise UnitError(f"vcpus {vcpus!r} is not a positive integer")
    if memory is not None and (isinstance(memory, bool) or not isinstance(memory, int) or memory < 0):
        raise UnitError(f"memory_mb {memory!r} is not a size")
    return Flavour(_opt(name), vcpus, None if memory is None else memory * _MIB)


def _image(data: Dict[str, Any]) -> Optional[str]:
    image = _opt(data.get("image_uuid"))
    if image is None:
        ref = _opt(data.get("image_ref_url"))
        image = ref.rstrip("/").rsplit("/", 1)[-1] if ref else None
    return image


def _running(data: Dict[str, Any]) -> Optional[bool]:
    state = data.get("state")
    if not isinstance(state, str) or not state:
        return None
    return state.lower() == "active"


def _opt(value: Any) -> Optional[str]:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
