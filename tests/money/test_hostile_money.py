"""Hostile input on the money routes: every refusal is a 4xx problem document, never a 500."""

from __future__ import annotations

import pytest

from tests.support.money import Money, put_tariffs, tariff

BAD_TARIFFS: dict[str, object] = {
    "unknown currency": tariff(currency="EURO"),
    "not a currency in circulation": tariff(currency="XXX"),
    "lower-case currency": tariff(currency="eur"),
    "negative rate": tariff(rate="-0.01"),
    "NaN rate (string)": tariff(rate="NaN"),
    "infinite rate": tariff(rate="Infinity"),
    "huge rate": tariff(rate="1e30"),
    "too many places": tariff(rate="0.0000000000000000001"),
    "rate as bool": tariff(rate=True),
    "rate as list": tariff(rate=[1]),
    "rate as object": tariff(rate={"value": 1}),
    "unknown unit": tariff(unit="furlong"),
    "core_hour without benchmark": tariff(benchmark=None),
    "gpu_hour without model": tariff(unit="gpu_hour", benchmark=None),
    "benchmark on a vm unit": tariff(unit="vm_vcpu_hour"),
    "interval backwards": tariff(valid_to="2026-02-01T00:00:00Z"),
    "time as a number": tariff(valid_from=1767225600),
    "time not a time": tariff(valid_from="soon"),
    "unknown field": tariff(discount="10%"),
    "site unknown": tariff(site="SITE-Z"),
    "site empty": tariff(site=""),
    "huge resource name": tariff(resource="r" * 10_000),
    "body a list": [tariff()],
    "body a string": "tariff",
    "body null": None,
}


@pytest.mark.parametrize("case", list(BAD_TARIFFS))
def test_bad_tariffs_are_refused(money: Money, case: str) -> None:
    with money.client() as http:
        answer = http.put("/v1/tariffs/t1", json=BAD_TARIFFS[case])
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert http.get("/v1/tariffs").json() == []


def test_raw_bodies_nan_and_overflow(money: Money) -> None:
    with money.client() as http:
        for raw in (
            b'{"site": "SITE-A", "rate": NaN}',
            b'{"rate": 1e400}',
            b"{not json",
            b"\xff\xfe",
            b"",
        ):
            answer = http.put("/v1/tariffs/t1", content=raw, headers={"Content-Type": "application/json"})
            assert 400 <= answer.status_code < 500, (raw, answer.status_code, answer.text)
        assert http.get("/v1/tariffs").json() == []


def test_overlapping_validity_is_a_conflict_and_ids_are_checked(money: Money) -> None:
    put_tariffs(money)
    with money.client() as http:
        # a-core-1 runs to 16 March; this one starts on 10 March: two prices at once.
        overlap = http.put(
            "/v1/tariffs/a-core-3", json=tariff(valid_from="2026-03-10T00:00:00Z", valid_to=None)
        )
        assert overlap.status_code == 409 and "overlapping" in overlap.json()["detail"]
        # Same resource in another currency overlapping is still two prices at once.
        other = http.put("/v1/tariffs/a-core-4", json=tariff(currency="USD"))
        assert other.status_code == 409
        # Another project class has a price list of its own.
        assert http.put("/v1/tariffs/a-core-ext", json=tariff(project_class="external")).status_code == 201
        assert http.put("/v1/tariffs/bad%20id", json=tariff()).status_code == 422
        assert http.put("/v1/tariffs/" + "x" * 100, json=tariff()).status_code == 422
        assert http.get("/v1/tariffs/none").status_code == 404
        assert http.delete("/v1/tariffs/none").status_code == 404
        assert http.delete("/v1/tariffs/a-core-ext").status_code == 204
        assert len(http.get("/v1/tariffs").json()) == 5


@pytest.mark.parametrize(
    "body",
    [
        {"project": "p", "period": "2026-13"},
        {"project": "p", "period": "26-03"},
        {"project": "p", "period": "1999-12"},
        {"project": 5, "period": "2026-03"},
        {"project": "", "period": "2026-03"},
        {"project": "p"},
        {"project": "p", "period": "2026-03", "user": ""},
        {"project": "p", "period": "2026-03", "extra": 1},
        ["p", "2026-03"],
        "x",
    ],
)
def test_bad_invoice_requests_are_refused(money: Money, body: object) -> None:
    with money.client() as http:
        answer = http.post("/v1/invoices", json=body)
        assert 400 <= answer.status_code < 500, answer.text
        assert http.get("/v1/invoices").json() == []


def test_unknown_invoice_numbers_are_not_found(money: Money) -> None:
    with money.client() as http:
        for number in ("INV-000001", "nope", "..%2F..%2Fetc", "INV-1", "INV-000001.doc"):
            answer = http.get(f"/v1/invoices/{number}")
            assert answer.status_code in (404, 422), (number, answer.status_code)
        assert http.get("/v1/invoices/INV-000001.pdf").status_code == 404
        assert http.get("/v1/invoices/INV-000001.exe").status_code in (404, 422)
        assert http.post("/v1/invoices/INV-000009/credit").status_code == 404
