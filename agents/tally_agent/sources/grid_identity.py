"""Grid identities: BLAH/CREAM accounting logs map a batch job to a certificate DN and VOMS FQAN."""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, Iterator, Optional, Tuple

from tally_agent.context import ParseContext
from tally_agent.timeutil import iso_z, parse_local
from tally_agent.units import UnitError

SOURCE = "blah"
_PAIR = re.compile(r'"([A-Za-z]+)=([^"]*)"')


def split_fqan(fqan: str) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    """(vo, vo_group, vo_role) from `/atlas/uk/Role=production/Capability=NULL`.

    The group is the path before the first `Role=`/`Capability=` element; a role of `NULL` (or
    none) is no role. `vo.sample.org` without slashes is taken as the VO itself.
    """
    text = fqan.strip()
    if not text:
        return None, None, None
    if not text.startswith("/"):
        return text, None, None
    group_parts = []
    role: Optional[str] = None
    for element in text.strip("/").split("/"):
        if element.startswith("Role="):
            role = None if element[5:] in ("NULL", "") else element
        elif element.startswith("Capability="):
            continue
        elif role is None:
            group_parts.append(element)
    if not group_parts:
        return None, None, role
    return group_parts[0], "/" + "/".join(group_parts), role


def parse(lines: Iterable[str], ctx: ParseContext) -> Iterator[Dict[str, Any]]:
    """Identity mappings: {lrms_id, global_user, fqan, vo, vo_group, vo_role, ce, grid_job_id, ...}."""
    stats = ctx.stats
    for line_no, raw in enumerate(lines, 1):
        stats.lines += 1
        if not raw.strip():
            continue
        pairs: Dict[str, str] = {}
        for key, value in _PAIR.findall(raw):
            # A key written twice keeps its first value: a line's first userFQAN is the primary
            # FQAN (APEL's BLAH parser keeps the first occurrence too).
            pairs.setdefault(key, value)
        try:
            if "lrmsID" not in pairs or "userDN" not in pairs:
                raise UnitError("no lrmsID or userDN")
            moment = parse_local(pairs.get("timestamp", ""), ctx.zone, "%Y-%m-%d %H:%M:%S")
        except (UnitError, ValueError) as exc:
            stats.error(SOURCE, line_no, str(exc))
            continue
        vo, vo_group, vo_role = split_fqan(pairs.get("userFQAN", ""))
        stats.records += 1
        yield {
            "timestamp": iso_z(moment) if moment is not None else None,
            "global_user": pairs["userDN"],
            "fqan": pairs.get("userFQAN"),
            "vo": vo,
            "vo_group": vo_group,
            "vo_role": vo_role,
            "ce": pairs.get("ceID"),
            "grid_job_id": pairs.get("jobID"),
            "lrms_id": pairs["lrmsID"],
            "local_user": pairs.get("localUser"),
        }


class IdentityJoin:
    """Attaches grid identities to job records by batch job id (with or without the server suffix).

    A job submitted through a CE appears once per FQAN; the first mapping (the primary FQAN) wins.
    """

    def __init__(self, identities: Iterable[Dict[str, Any]]) -> None:
        self.by_id: Dict[str, Dict[str, Any]] = {}
        for identity in identities:
            lrms = str(identity["lrms_id"])
            for key in (lrms, lrms.split(".", 1)[0]):
                self.by_id.setdefault(key, identity)

    def apply(self, job: Dict[str, Any]) -> Dict[str, Any]:
        identity = self.by_id.get(str(job.get("local_job_id", "")))
        if identity is None:
            return job
        job["infrastructure"] = "grid"
        for field in ("global_user", "vo", "vo_group", "vo_role"):
            if identity.get(field):
                job[field] = identity[field]
        return job
