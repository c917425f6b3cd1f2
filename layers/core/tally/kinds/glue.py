"""A custom kind's table in the Glue catalog (AWS mode), created or updated when it is defined, with
the same columns and partition projection as the DDL DuckDB reads (tally.kinds.tables)."""

from __future__ import annotations

from typing import Any

from tally.kinds.spec import KindDefinition
from tally.kinds.tables import glue_table_input


class GlueCatalog:
    def __init__(self, client: Any, database: str, warehouse_uri: str) -> None:
        self.client = client
        self.database = database
        self.warehouse_uri = warehouse_uri

    def publish(self, definition: KindDefinition) -> None:
        table = glue_table_input(definition, self.warehouse_uri)
        try:
            self.client.update_table(DatabaseName=self.database, TableInput=table)
        except self.client.exceptions.EntityNotFoundException:
            self.client.create_table(DatabaseName=self.database, TableInput=table)
