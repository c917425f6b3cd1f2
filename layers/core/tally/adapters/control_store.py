"""Opening the control store of the configured mode (the port is `tally.domain.ports.ControlStore`)."""

from __future__ import annotations

from tally.domain.ports import ControlStore
from tally.settings import Settings


def open_control_store(settings: Settings) -> ControlStore:
    """The store for the configured mode (imports here keep boto3 out of local start-up)."""
    if settings.mode == "local":
        from tally.adapters.control_sqlite import SqliteControlStore

        return SqliteControlStore(settings.local_control_db)
    from tally.adapters.control_dynamodb import DynamoControlStore

    if not settings.control_table:
        raise ValueError("TALLY_CONTROL_TABLE is required in AWS mode")
    return DynamoControlStore(settings.control_table, settings.aws_region, settings.dynamodb_endpoint_url)
