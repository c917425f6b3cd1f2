"""The report catalog as the portal reads it (portal/src/catalog.json): kinds, dimensions and
metrics, written from tally.reports.catalog so the front end offers exactly what the reports API
takes. A test fails when the committed file drifts; `python -m tally.serving.portal_catalog`
rewrites it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tally.reports.catalog import KINDS
from tally.reports.spec import MAX_LIMIT, OTHER

LABELS = {
    "jobs": "Compute jobs (HPC and grid)",
    "vms": "Cloud VMs",
    "storage": "Storage",
    "accelerators": "GPUs",
}


def catalog_document() -> dict[str, Any]:
    return {
        "other": OTHER,
        "max_limit": MAX_LIMIT,
        "kinds": {
            name: {
                "label": LABELS.get(name, name),
                "dimensions": list(kind.dimensions),
                "time_dimensions": list(kind.time_dimensions),
                "metrics": {
                    m: {"type": spec.type, "description": spec.description}
                    for m, spec in kind.metrics.items()
                },
                "default_metrics": list(kind.default_metrics),
            }
            for name, kind in KINDS.items()
        },
    }


def catalog_text() -> str:
    return json.dumps(catalog_document(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> None:
    from tally.serving.portal_build import PORTAL

    target = Path(argv[0]) if argv else PORTAL / "src" / "catalog.json"
    target.write_text(catalog_text())
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1:])
