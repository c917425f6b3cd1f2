"""The instance_keys view (the SQL every view takes an instance key from) gives, for every spelling
of an instance a bill or an agent uses, the key tally.reconcile.ids gives in the verifier: bill
lines and VM samples written at the warehouse layouts, the view run on DuckDB from the real SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tally.adapters.warehouse import open_warehouse
from tally.query.duckdb_engine import DuckDbEngine
from tally.reconcile.ids import billed_instance_key, measured_instance_key
from tally.settings import Settings
from tests.reconcile.fixtures import line, samples
from tests.reconcile.warehouse_fixtures import store_bill, store_vms

START = datetime(2026, 3, 2, tzinfo=UTC)
SCALE_SET = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/Pool"
# (provider, reference, the bill's x_vm_name): ARNs, bare ids, paths of VMs and of other resources.
REFERENCES: list[tuple[str, str, str | None]] = [
    ("aws", "arn:aws:ec2:eu-west-1:111:instance/i-0ABC", None),
    ("aws", "i-0Def", None),
    ("aws", "arn:aws:ec2:eu-west-1:111:volume/vol-1", None),
    ("aws", "pre-i-0abc", None),  # an id that merely ends like one
    ("aws", "arn:aws:rds:eu-west-1:111:db:main", None),
    ("azure", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/Db-2", None),
    ("azure", SCALE_SET + "/virtualMachines/3", None),
    ("azure", SCALE_SET, "Pool_7"),
    ("azure", SCALE_SET, None),
    ("azure", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/data", None),
    ("azure", "Web-VM-1", None),
    ("gcp", "//compute.googleapis.com/projects/p/zones/z/instances/VM-9", None),
    ("gcp", "projects/p/zones/z/disks/disk-1", None),
    ("gcp", "4471189812", None),
    ("openstack", "nova/servers/ABC-123", None),
    ("openstack", "Bare-Id", None),
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> DuckDbEngine:
    home = tmp_path_factory.mktemp("keys")
    warehouse = open_warehouse(Settings(mode="local", home=home))
    bill = [
        line(
            provider=provider,
            account="111",
            resource_id=ref,
            start=START,
            end=START + timedelta(hours=1),
            cost="1",
            hours="1",
            vm_name=vm_name,
            row=n,
        )
        for n, (provider, ref, vm_name) in enumerate(REFERENCES)
    ]
    store_bill(warehouse, bill, "delivery-1")
    vms = []
    for provider, ref, vm_name in REFERENCES:
        if vm_name is None:
            vms += samples(
                provider=provider, account="111", instance_id=ref, start=START, end=START + timedelta(hours=1)
            )
    store_vms(warehouse, vms)
    return DuckDbEngine(home / "warehouse")


def test_the_view_gives_the_verifier_s_keys(engine: DuckDbEngine) -> None:
    rows = engine.query(
        "SELECT side, provider, ref, vm_name, instance_key FROM instance_keys"
    ).table.to_pylist()
    got = {(r["side"], r["provider"], r["ref"], r["vm_name"]): r["instance_key"] for r in rows}
    expected = {}
    for provider, ref, vm_name in REFERENCES:
        expected[("billed", provider, ref, vm_name or "")] = billed_instance_key(provider, ref, vm_name)
        if vm_name is None:
            expected[("measured", provider, ref, "")] = measured_instance_key(provider, ref)
    assert got == expected
    # What the rules give, spelled out for a few (so the two sides cannot agree on a wrong key).
    assert got[("billed", "aws", "arn:aws:ec2:eu-west-1:111:instance/i-0ABC", "")] == "i-0abc"
    assert got[("billed", "aws", "pre-i-0abc", "")] is None
    assert got[("measured", "aws", "pre-i-0abc", "")] == "pre-i-0abc"
    assert got[("billed", "azure", SCALE_SET + "/virtualMachines/3", "")] == "pool_3"
    assert got[("billed", "azure", SCALE_SET, "Pool_7")] == "pool_7"
    assert got[("measured", "azure", SCALE_SET, "")] == "pool"  # a set's path from an agent: its name
    assert got[("billed", "gcp", "projects/p/zones/z/disks/disk-1", "")] is None
    assert got[("measured", "gcp", "projects/p/zones/z/disks/disk-1", "")] == "disk-1"
    assert got[("billed", "openstack", "nova/servers/ABC-123", "")] == "abc-123"
