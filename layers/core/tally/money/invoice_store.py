"""Issued invoices in the warehouse: `invoices/<prefix>/<number>.json`, one immutable object each.

Numbers are a gap-free sequence per issuer (its prefix): a number is allocated and its document
written while holding the control-store lease `invoices/<prefix>`, so two issuers at once (two
`tally serve` workers, two Lambdas) cannot take the same number, and no number is taken without a
document. A document, once written, is never rewritten: a correction is a credit note and a new
invoice, each with a number of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import orjson

from tally.domain.ports import Leases, Warehouse
from tally.money.invoices import Invoice, InvoiceError, InvoiceNotFoundError
from tally.money.leases import holding

NUMBER = re.compile(r"^([A-Z][A-Z0-9]{0,15})-(\d{6,})$")


def invoice_key(number: str) -> str:
    match = NUMBER.match(number)
    if match is None:
        raise InvoiceNotFoundError(f"{number!r} is not an invoice number (PREFIX-000001)")
    return f"invoices/{match[1]}/{number}.json"


class InvoiceStore:
    def __init__(self, warehouse: Warehouse, leases: Leases, prefix: str) -> None:
        self.warehouse = warehouse
        self.leases = leases
        self.prefix = prefix

    def _numbers(self) -> list[str]:
        keys = self.warehouse.list_keys(f"invoices/{self.prefix}/")
        names = [k.rsplit("/", 1)[-1].removesuffix(".json") for k in keys if k.endswith(".json")]
        return sorted(n for n in names if NUMBER.match(n))

    def issue(self, make: Callable[[str], list[Invoice]]) -> list[Invoice]:
        """Allocate consecutive numbers to the documents `make` builds from the first number (one
        invoice, or a credit note and its corrected invoice) and store them, all under the lease."""
        with holding(self.leases, f"invoices/{self.prefix}"):
            numbers = self._numbers()
            last = int(NUMBER.match(numbers[-1])[2]) if numbers else 0  # type: ignore[index]
            if last != len(numbers):
                raise InvoiceError(f"the {self.prefix} sequence has {len(numbers)} documents up to {last}")
            documents = make(self.number(last + 1))
            for offset, document in enumerate(documents):
                if document.number != self.number(last + 1 + offset):
                    raise InvoiceError(f"document {document.number} is out of sequence")
            for document in documents:
                key = invoice_key(document.number)
                if self.warehouse.exists(key):
                    raise InvoiceError(f"invoice {document.number} exists already")
                self.warehouse.put_bytes(key, orjson.dumps(document.model_dump(mode="json")))
        return documents

    def number(self, sequence: int) -> str:
        return f"{self.prefix}-{sequence:06d}"

    def get(self, number: str) -> Invoice:
        key = invoice_key(number)
        if not self.warehouse.exists(key):
            raise InvoiceNotFoundError(f"no invoice {number!r}")
        return Invoice.model_validate(orjson.loads(self.warehouse.get_bytes(key)))

    def documents(self) -> list[Invoice]:
        return [self.get(number) for number in self._numbers()]
