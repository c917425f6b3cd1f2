"""Storage TB-months and VM memory GB-hours, priced across a tariff change, worked out by hand."""

from __future__ import annotations

import httpx

from tests.support.money import Money, tariff
from tests.support.records import storage, vm


def test_storage_tb_months_and_vm_gb_hours(money: Money) -> None:
    agent = money.services.create_key("SITE-A").plain
    with httpx.Client(base_url=money.url, headers={"Authorization": f"Bearer {agent}"}) as http:
        snapshots = [
            storage(1, project="astro", end_time="2026-03-02T00:00:00Z", used_bytes=2 * 10**12),
            storage(2, project="astro", end_time="2026-03-20T00:00:00Z", used_bytes=4 * 10**12),
        ]
        assert http.post("/v1/records/storage", json=snapshots).json()["accepted"] == 2
        vms = [vm(n, instance_id="i-astro", project="astro", memory_bytes=8 * 10**9) for n in range(4)]
        assert http.post("/v1/records/vms", json=vms).json()["accepted"] == 4
    disk = {"resource": "dcache.example.org", "unit": "storage_tb_month", "benchmark": None}
    with money.client() as http:
        for tariff_id, body in {
            "disk-1": tariff(**disk, rate="10", valid_to="2026-03-15T00:00:00Z"),
            "disk-2": tariff(**disk, rate="20", valid_from="2026-03-15T00:00:00Z", valid_to=None),
            "mem": tariff(resource="cloud1", unit="vm_gb_hour", benchmark=None, rate="0.01", valid_to=None),
        }.items():
            assert http.put(f"/v1/tariffs/{tariff_id}", json=body).status_code == 201
        invoice = http.post("/v1/invoices", json={"project": "astro", "period": "2026-03"}).json()
    # Two snapshots in March, each 1/2 of the month: 2 TB / 2 = 1 TB-month at 10, 4 TB / 2 = 2 at 20;
    # the VM: 4 x 15 min with 8 GB = 8 GB-hours at 0.01. (No vCPU tariff for cloud1 here.)
    got = [(x["tariff_id"], x["quantity"], x["amount"]) for x in invoice["lines"]]
    assert got == [
        ("mem", "8.000000", "0.08"),
        ("disk-1", "1.000000", "10.00"),
        ("disk-2", "2.000000", "40.00"),
    ]
    assert invoice["totals"] == {"EUR": "50.08"}
