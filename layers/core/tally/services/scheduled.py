"""The scheduled work, one call for both schedulers (`tally serve`'s thread and
the alerts evaluator Lambda): alert rules, then due report subscriptions.

Each part runs even when the other fails; an alerts failure is raised after the subscriptions ran
(so a Lambda invocation still fails and is retried, as before).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from tally.services.container import Services

log = logging.getLogger("tally.scheduled")


def run_scheduled(svc: Services, at: datetime | None = None) -> dict[str, Any]:
    failure: Exception | None = None
    out: dict[str, Any] = {}
    try:
        out.update(svc.alerts.run(at).as_dict())
    except Exception as error:  # the subscriptions still run; the failure is raised below
        failure = error
    try:
        out["subscriptions"] = svc.subscriptions.run(at).as_dict()
    except Exception as error:  # one part's failure must not stop the other
        log.exception("the subscriptions run failed")
        out["subscriptions"] = {"error": f"{type(error).__name__}: {error}"[:300]}
    if failure is not None:
        raise failure
    return out
