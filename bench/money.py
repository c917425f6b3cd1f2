"""Benchmark: money and foresight. Alert evaluation over 2,000 VMs (bench/money_alerts.py) and a
month's invoices for 1,000 projects over 10 million jobs (bench/money_invoices.py), each beside a
bare DuckDB aggregation of the same rows.

    .venv/bin/python bench/money.py alerts [--vms 2000] [--days 7]
    .venv/bin/python bench/money.py invoices [--jobs 10000000] [--projects 1000]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path
from types import ModuleType


def _beside(name: str) -> ModuleType:
    """A module of bench/ (a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = parser.add_subparsers(dest="part", required=True)
    alerts = parts.add_parser("alerts", help="the idle and stuck VM rules over a fleet")
    alerts.add_argument("--vms", type=int, default=2000)
    alerts.add_argument("--days", type=int, default=7)
    invoices = parts.add_parser("invoices", help="a month's invoices for every project")
    invoices.add_argument("--jobs", type=int, default=10_000_000)
    invoices.add_argument("--projects", type=int, default=1000)
    args = parser.parse_args()
    if args.part == "alerts":
        print(json.dumps(_beside("money_alerts").run(args.vms, args.days), indent=2))
    else:
        print(json.dumps(_beside("money_invoices").run(args.jobs, args.projects), indent=2))


if __name__ == "__main__":
    main()
