"""The money service: the price list, and invoices issued from the usage views at its rates."""

from __future__ import annotations

from datetime import datetime

from tally.domain.ports import KnownSites, Leases, Warehouse
from tally.money.cost_rules import CostRuleStore
from tally.money.invoice_store import InvoiceStore
from tally.money.invoices import (
    Invoice,
    InvoiceError,
    InvoiceNotFoundError,
    Line,
    NothingToInvoiceError,
    Reach,
    credit_lines,
    now_utc,
    period_bounds,
    totals_of,
)
from tally.money.pricing import priced_lines, priced_lines_by_project
from tally.money.settings import MoneySettings
from tally.money.tariff_store import TariffStore
from tally.query.engine import QueryEngine

#: Invoices of a month's run written per hold of the numbering lease.
ISSUE_BATCH = 100


class MoneyService:
    def __init__(self, warehouse: Warehouse, control: Leases, sites: KnownSites, settings: MoneySettings):
        self.settings = settings
        self.tariffs = TariffStore(warehouse, control, sites)
        self.invoices = InvoiceStore(warehouse, control, settings.number_prefix)
        self.cost_rules = CostRuleStore(warehouse, control)

    def _document(
        self,
        number: str,
        lines: list[Line],
        project: str,
        period: str,
        issued_at: datetime,
        **extra: str | None,
    ) -> Invoice:
        start, end = period_bounds(period)
        return Invoice(
            number=number,
            issuer=self.settings.issuer,
            issuer_address=self.settings.issuer_address,
            project=project,
            period=period,
            period_start=start,
            period_end=end,
            issue_date=issued_at.date(),
            issued_at=issued_at,
            lines=lines,
            totals=totals_of(lines),
            **extra,
        )

    def _lines(
        self,
        engine: QueryEngine,
        project: str,
        period: str,
        project_class: str | None,
        user: str | None,
        person_id: str | None,
    ) -> list[Line]:
        start, end = period_bounds(period)
        lines = priced_lines(engine, project, start, end, project_class, user, person_id)
        if not lines:
            who = (
                f"project {project!r}"
                + (f", user {user!r}" if user else "")
                + (f", person {person_id!r}" if person_id else "")
            )
            raise NothingToInvoiceError(f"{who} has no priced usage in {period}: nothing to invoice")
        return lines

    def issue(
        self,
        engine: QueryEngine,
        project: str,
        period: str,
        project_class: str | None = None,
        user: str | None = None,
        now: datetime | None = None,
        person_id: str | None = None,
    ) -> Invoice:
        lines = self._lines(engine, project, period, project_class, user, person_id)
        issued_at = now or now_utc()

        def make(number: str) -> list[Invoice]:
            return [
                self._document(
                    number,
                    lines,
                    project,
                    period,
                    issued_at,
                    user=user,
                    person_id=person_id,
                    project_class=project_class,
                )
            ]

        return self.invoices.issue(make)[0]

    def issue_month(
        self,
        engine: QueryEngine,
        period: str,
        project_class: str | None = None,
        now: datetime | None = None,
        skip: frozenset[str] = frozenset(),
    ) -> list[Invoice]:
        """Invoice every project with priced usage in `period` (but those in `skip`, e.g. invoiced
        already), from one aggregation of the usage; in project order, numbered in sequence, a
        batch of documents per hold of the numbering lease (well inside the lease's time)."""
        start, end = period_bounds(period)
        issued_at = now or now_utc()
        todo = [
            (project, lines)
            for project, lines in sorted(priced_lines_by_project(engine, start, end, project_class).items())
            if project not in skip
        ]
        out: list[Invoice] = []
        for first in range(0, len(todo), ISSUE_BATCH):
            batch = todo[first : first + ISSUE_BATCH]

            def make(number: str, batch: list[tuple[str, list[Line]]] = batch) -> list[Invoice]:
                sequence = int(number.rsplit("-", 1)[1])
                return [
                    self._document(
                        self.invoices.number(sequence + k),
                        lines,
                        project,
                        period,
                        issued_at,
                        project_class=project_class,
                    )
                    for k, (project, lines) in enumerate(batch)
                ]

            out.extend(self.invoices.issue(make))
        return out

    def credit(
        self, engine: QueryEngine, number: str, now: datetime | None = None
    ) -> tuple[Invoice, Invoice | None]:
        """Cancel an invoice with a credit note and issue its correction from today's usage and
        tariffs (none when nothing is priced any more); returns both."""
        original = self.invoices.get(number)
        if original.kind != "invoice":
            raise InvoiceError(f"{number} is a credit note: only invoices are credited")
        start, end = period_bounds(original.period)
        corrected = priced_lines(
            engine,
            original.project,
            start,
            end,
            original.project_class,
            original.user,
            original.person_id,
        )
        issued_at = now or now_utc()

        def make(first: str) -> list[Invoice]:
            # Under the numbering lease, so two corrections of one invoice cannot both pass.
            if any(doc.credits == number for doc in self.invoices.documents()):
                raise InvoiceError(f"invoice {number} has been credited already")
            common = {
                "user": original.user,
                "person_id": original.person_id,
                "project_class": original.project_class,
            }
            note = self._document(
                first,
                credit_lines(original),
                original.project,
                original.period,
                issued_at,
                kind="credit_note",
                credits=number,
                **common,
            )
            if not corrected:
                return [note]
            second = self.invoices.number(int(first.rsplit("-", 1)[1]) + 1)
            fixed = self._document(
                second, corrected, original.project, original.period, issued_at, corrects=number, **common
            )
            return [note, fixed]

        documents = self.invoices.issue(make)
        return documents[0], documents[1] if len(documents) > 1 else None

    def visible(self, reach: Reach) -> list[Invoice]:
        """The invoices and credit notes `reach` allows."""
        return [i for i in self.invoices.documents() if reach.allows(i)]

    def find(self, number: str, reach: Reach) -> Invoice:
        """One invoice; one the caller may not read is answered as if it did not exist."""
        invoice = self.invoices.get(number)
        if not reach.allows(invoice):
            raise InvoiceNotFoundError(f"no invoice {number!r}")
        return invoice
