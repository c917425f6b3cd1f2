"""Custom kind definitions the kinds tests share."""

from __future__ import annotations

from typing import Any

ENERGY: dict[str, Any] = {
    "description": "Energy drawn by one rack over one hour",
    "fields": [
        {"name": "rack", "type": "string", "description": "Rack label", "required": True},
        {"name": "hour_start", "type": "timestamp", "required": True},
        {"name": "energy_kwh", "type": "number", "unit": "kWh"},
        {"name": "peak_watts", "type": "integer", "unit": "W"},
        {"name": "on_battery", "type": "boolean"},
    ],
    "identity": ["rack", "hour_start"],
    "event_time": "hour_start",
    "partition": "month",
}
