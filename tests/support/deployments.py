"""Settings for a Tally in local or AWS mode (a fresh bucket and table each), and a running one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx

from tally.adapters.control_dynamodb import create_table
from tally.services.container import Services
from tally.settings import Settings


def local_settings(home: Path, **overrides: object) -> Settings:
    return Settings(mode="local", home=home, **overrides)  # type: ignore[arg-type]


def aws_settings(endpoint: str, **overrides: object) -> Settings:
    """Fresh bucket and control table per call, so tests never see each other's data."""
    name = f"tally-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1").create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    create_table(name, "eu-west-1", endpoint)
    return Settings(
        mode="aws",
        warehouse_uri=f"s3://{name}/warehouse",
        control_table=name,
        s3_endpoint_url=endpoint,
        dynamodb_endpoint_url=endpoint,
        **overrides,  # type: ignore[arg-type]
    )


@dataclass
class Deployment:
    """A running Tally: its base URL, services (to inspect state) and one site with a key."""

    url: str
    services: Services
    site: str
    key: str

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key or self.key}"}, timeout=60
        )
