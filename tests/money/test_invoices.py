"""Invoices over real HTTP: totals worked out by hand across a tariff change, two currencies, two
sites, a credit note with its correction, and the PDF, CSV and Excel downloads read back."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]  # openpyxl ships no type hints
import pypdf
import pytest

from tests.support.money import PROJECT, TARIFFS, Money, put_tariffs

# By hand (see the records in conftest): SITE-A core-hours 80 + 80 before the change at 0.01 EUR
# = 1.60, 60 after it at 0.015 = 0.90; 2 GPU-hours at 2.50 = 5.00; 4 vCPU-hours at 0.03 = 0.12;
# SITE-B 160 core-hours at 0.02 CHF = 3.20.
EXPECTED_LINES = [
    ("SITE-B", "cluster2", "core_hour", "b-core", "160.000000", "0.02", "CHF", "3.20"),
    ("SITE-A", "cloud1", "vm_vcpu_hour", "a-vm", "4.000000", "0.03", "EUR", "0.12"),
    ("SITE-A", "cluster1", "core_hour", "a-core-1", "160.000000", "0.01", "EUR", "1.60"),
    ("SITE-A", "cluster1", "core_hour", "a-core-2", "60.000000", "0.015", "EUR", "0.90"),
    ("SITE-A", "cluster1", "gpu_hour", "a-gpu", "2.000000", "2.5", "EUR", "5.00"),
]
EUR_TOTAL = Decimal("1.60") + Decimal("0.90") + Decimal("5.00") + Decimal("0.12")


def _lines(invoice: dict[str, object]) -> list[tuple[str, ...]]:
    lines = invoice["lines"]
    assert isinstance(lines, list)
    return [
        (
            x["site"],
            x["resource"],
            x["unit"],
            x["tariff_id"],
            x["quantity"],
            x["rate"],
            x["currency"],
            x["amount"],
        )
        for x in lines
    ]


def test_invoice_across_a_tariff_change_two_currencies_and_two_sites(money: Money, tmp_path: Path) -> None:
    put_tariffs(money)
    with money.client() as http:
        answer = http.post("/v1/invoices", json={"project": PROJECT, "period": "2026-03"})
        assert answer.status_code == 201, answer.text
        invoice = answer.json()
        assert invoice["number"] == "INV-000001"
        assert (invoice["kind"], invoice["period_start"], invoice["period_end"]) == (
            "invoice",
            "2026-03-01",
            "2026-04-01",
        )
        assert _lines(invoice) == EXPECTED_LINES
        assert invoice["totals"] == {"CHF": "3.20", "EUR": str(EUR_TOTAL)} == {"CHF": "3.20", "EUR": "7.62"}
        assert http.get("/v1/invoices/INV-000001").json() == invoice
        assert [i["number"] for i in http.get("/v1/invoices").json()] == ["INV-000001"]

        # The CSV holds the same lines and totals.
        rows = list(csv.DictReader(io.StringIO(http.get("/v1/invoices/INV-000001.csv").text)))
        assert [(r["site"], r["tariff"], r["amount"]) for r in rows if r["unit"] != "total"] == [
            (line[0], line[3], line[7]) for line in EXPECTED_LINES
        ]
        assert {r["currency"]: r["amount"] for r in rows if r["unit"] == "total"} == {
            "CHF": "3.20",
            "EUR": "7.62",
        }

        # The workbook too, with amounts as numbers.
        xlsx = http.get("/v1/invoices/INV-000001.xlsx")
        assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
        sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
        assert sheet is not None
        values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
        totals = {row[7]: row[8] for row in values if row[6] == "total"}
        assert totals == {"CHF": 3.2, "EUR": 7.62}

        # The PDF, opened and its text read back.
        pdf = http.get("/v1/invoices/INV-000001.pdf")
        assert pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in ("Invoice INV-000001", PROJECT, "2026-03", "SITE-B", "a-core-2", "7.62", "3.20", "CHF"):
        assert expected in text, expected
    path = tmp_path / "INV-000001.pdf"
    path.write_bytes(pdf.content)
    _render_png(path)


def _render_png(pdf: Path) -> None:
    """Once, as an artefact a person can look at (kept beside the test's temporary files)."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: no PNG of the invoice rendered")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-singlefile", str(pdf), str(pdf.with_suffix(""))], check=True
    )
    png = pdf.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_credit_note_cancels_and_a_correction_reissues(money: Money) -> None:
    put_tariffs(money)
    with money.client() as http:
        assert http.post("/v1/invoices", json={"project": PROJECT, "period": "2026-03"}).status_code == 201
        # The second core-hour rate was wrong: 0.012, not 0.015.
        fixed = {**_tariff_a2(), "rate": "0.012"}
        assert http.put("/v1/tariffs/a-core-2", json=fixed).status_code == 200
        answer = http.post("/v1/invoices/INV-000001/credit")
        assert answer.status_code == 201, answer.text
        note, corrected = answer.json()["credit_note"], answer.json()["invoice"]
        assert (note["number"], note["kind"], note["credits"]) == ("INV-000002", "credit_note", "INV-000001")
        assert _lines(note) == [
            (*line[:4], "-" + line[4], line[5], line[6], "-" + line[7]) for line in EXPECTED_LINES
        ]
        assert note["totals"] == {"CHF": "-3.20", "EUR": "-7.62"}
        # 60 core-hours at 0.012 = 0.72 instead of 0.90.
        assert (corrected["number"], corrected["corrects"]) == ("INV-000003", "INV-000001")
        assert corrected["totals"] == {"CHF": "3.20", "EUR": "7.44"}
        # The original is unchanged, and cannot be credited twice.
        original = http.get("/v1/invoices/INV-000001").json()
        assert original["totals"] == {"CHF": "3.20", "EUR": "7.62"} and original.get("credits") is None
        again = http.post("/v1/invoices/INV-000001/credit")
        assert again.status_code == 409, again.text
        assert http.post("/v1/invoices/INV-000002/credit").status_code == 409
        assert [i["number"] for i in http.get("/v1/invoices").json()] == [
            "INV-000001",
            "INV-000002",
            "INV-000003",
        ]
        pdf = http.get("/v1/invoices/INV-000002.pdf").content
    text = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Credit note INV-000002" in text and "INV-000001" in text and "-7.62" in text


def _tariff_a2() -> dict[str, object]:
    from tests.support.money import TARIFFS

    return dict(TARIFFS["a-core-2"])


def test_invoice_per_user_and_unpriced_months(money: Money) -> None:
    put_tariffs(money)
    with money.client() as http:
        # bob ran one job: 80 core-hours before the change at 0.01 EUR.
        answer = http.post("/v1/invoices", json={"project": PROJECT, "period": "2026-03", "user": "bob"})
        assert answer.status_code == 201, answer.text
        assert _lines(answer.json()) == [
            ("SITE-A", "cluster1", "core_hour", "a-core-1", "80.000000", "0.01", "EUR", "0.80")
        ]
        assert answer.json()["user"] == "bob"
        nothing = http.post("/v1/invoices", json={"project": PROJECT, "period": "2026-05"})
        assert nothing.status_code == 422 and "nothing to invoice" in nothing.json()["detail"]
        # No number was used up by the refusal: the next is 2.
        assert (
            http.post("/v1/invoices", json={"project": "other", "period": "2026-03"}).json()["number"]
            == "INV-000002"
        )


def test_each_grant_reaches_its_own_tariffs_and_invoices(money: Money) -> None:
    put_tariffs(money)
    with money.client() as http:
        assert http.post("/v1/invoices", json={"project": PROJECT, "period": "2026-03"}).status_code == 201
        assert http.post("/v1/invoices", json={"project": "other", "period": "2026-03"}).status_code == 201
        # Bob's own invoice: his one job (1 h x 8 cores x 10 = 80 core-hours at 0.01 EUR) through
        # his link to the login bob at SITE-A.
        mine = http.post("/v1/invoices", json={"project": PROJECT, "period": "2026-03", "person": money.bob})
        assert mine.status_code == 201, mine.text
        assert _lines(mine.json()) == [
            ("SITE-A", "cluster1", "core_hour", "a-core-1", "80.000000", "0.01", "EUR", "0.80")
        ]
        assert (mine.json()["number"], mine.json()["person_id"]) == ("INV-000003", money.bob)
        nobody = http.post(
            "/v1/invoices", json={"project": PROJECT, "period": "2026-03", "person": "p-" + "0" * 12}
        )
        assert nobody.status_code == 404, nobody.text
    with money.client(money.tokens["site_manager"]) as http:
        assert {t["tariff_id"] for t in http.get("/v1/tariffs").json()} == {
            "a-core-1",
            "a-core-2",
            "a-gpu",
            "a-vm",
        }
        assert http.get("/v1/tariffs/b-core").status_code == 404
        assert Decimal(http.get("/v1/tariffs/a-gpu").json()["rate"]) == Decimal("2.50")
        assert http.put("/v1/tariffs/x", json=TARIFFS["a-gpu"]).status_code == 403
        assert http.get("/v1/invoices").status_code == 403
    with money.client(money.tokens["project_manager"]) as http:
        assert [i["number"] for i in http.get("/v1/invoices").json()] == ["INV-000001", "INV-000003"]
        assert http.get("/v1/invoices/INV-000002").status_code == 404
        assert http.get("/v1/invoices/INV-000002.csv").status_code == 404
        assert http.get("/v1/invoices/INV-000001.csv").status_code == 200
        assert http.get("/v1/tariffs").status_code == 403
        assert http.post("/v1/invoices/INV-000001/credit").status_code == 403
    with money.client(money.tokens["user"]) as http:
        assert [i["number"] for i in http.get("/v1/invoices").json()] == ["INV-000003"]
        assert http.get("/v1/invoices/INV-000001").status_code == 404
        assert http.get("/v1/invoices/INV-000003.csv").status_code == 200
        assert http.post("/v1/invoices", json={"project": PROJECT, "period": "2026-03"}).status_code == 403
    with money.client(money.tokens["agent"]) as http:
        for path in ("/v1/tariffs", "/v1/invoices", "/v1/invoices/INV-000001"):
            refused = http.get(path)
            assert refused.status_code == 403 and "for people" in refused.json()["detail"], refused.text
