"""What a rule kind is, and the registry of kinds: a new kind is one class with `@register`.

A kind declares its parameters as a pydantic model (validated when a rule is stored) and turns a
rule into the conditions holding at `ctx.now`, from the warehouse through the query engine. Scope
filters and time bounds are bound as parameters; only the kind's fixed column names reach SQL.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from tally.alerts.model import AlertError, AlertRule, Condition, RuleScope
from tally.alerts.pricing import Pricer
from tally.domain.ports import Param, QueryEngine

if TYPE_CHECKING:
    from tally.foresight.model import Allocation
    from tally.foresight.status import AllocationStatus

#: The longest window any rule may look back over (a month and a bit).
MAX_HOURS = 24 * 40


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans(cls, value: object) -> object:
        # JSON `true` is no number (pydantic's lax mode would read it as 1).
        if isinstance(value, bool):
            raise ValueError("a boolean is not a number")
        return value


class AllocationSource(Protocol):
    """The allocations and their status (the foresight service) for allocation rules."""

    def all_allocations(self) -> list[Allocation]: ...

    def allocation_status(self, allocation: Allocation, at: datetime | None = None) -> AllocationStatus: ...


@dataclass(frozen=True)
class EvaluationContext:
    engine: QueryEngine
    now: datetime  # UTC, aware
    pricer: Pricer
    #: None where no allocation rule can be evaluated (their evaluation fails, counted).
    foresight: AllocationSource | None = None

    def query(self, sql: str, params: Sequence[Param]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.engine.query(sql, params).table.to_pylist()
        return rows


class InvalidParamsError(AlertError):
    def __init__(self, message: str, errors: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.errors = errors


class RuleKind(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    params_model: ClassVar[type[Params]]
    #: The scope fields the kind can filter on.
    scopes: ClassVar[frozenset[str]] = frozenset({"site", "resource", "project"})

    def check(self, params: dict[str, Any], scope: RuleScope) -> dict[str, Any]:
        """The parameters as stored (defaults filled in), or InvalidParamsError."""
        unsupported = [
            f for f in ("site", "resource", "project") if getattr(scope, f) and f not in self.scopes
        ]
        if unsupported:
            raise InvalidParamsError(
                f"a {self.name} rule cannot be scoped by {unsupported[0]}",
                [{"field": f"scope.{unsupported[0]}", "message": "not supported by this kind"}],
            )
        if scope.resource and not scope.site:
            raise InvalidParamsError(
                "a rule scoped to a resource names its site too",
                [{"field": "scope.site", "message": "required with scope.resource"}],
            )
        try:
            return self.params_model.model_validate(params).model_dump(mode="json")
        except ValidationError as error:
            problems: list[dict[str, object]] = [
                {"field": ".".join(["params", *(str(p) for p in e["loc"])]), "message": e["msg"]}
                for e in error.errors(include_url=False)
            ]
            raise InvalidParamsError(f"the {self.name} rule's params are not valid", problems) from error

    def params(self, rule: AlertRule) -> Any:
        return self.params_model.model_validate(rule.params)

    @abstractmethod
    def evaluate(self, rule: AlertRule, ctx: EvaluationContext) -> list[Condition]: ...


RULE_KINDS: dict[str, RuleKind] = {}
K = TypeVar("K", bound=type[RuleKind])


def register(cls: K) -> K:
    RULE_KINDS[cls.name] = cls()
    return cls


def kind_of(name: str) -> RuleKind:
    kind = RULE_KINDS.get(name)
    if kind is None:
        raise InvalidParamsError(
            f"unknown alert kind {name!r}: use one of {', '.join(sorted(RULE_KINDS))}",
            [{"field": "kind", "message": "unknown kind"}],
        )
    return kind


# -- SQL helpers -------------------------------------------------------------------------------


def scope_filter(scope: RuleScope, columns: dict[str, str]) -> tuple[str, list[Param]]:
    """`AND column = ?` for each scope field the rule sets (columns: scope field -> SQL column)."""
    sql, params = "", []
    for name in ("site", "resource", "project"):
        value = getattr(scope, name)
        if value is not None and name in columns:
            sql += f" AND {columns[name]} = ?"
            params.append(value)
    return sql, params


def naive(at: datetime) -> datetime:
    """Athena timestamps carry no zone and mean UTC."""
    return at.replace(tzinfo=None)


def partitions(start: datetime, end: datetime) -> list[Param]:
    """Bounds on `dt` (day or month text) for event times in [start, end]."""
    return [start.date().isoformat()[:7], end.date().isoformat()]


def hours_before(now: datetime, hours: float) -> datetime:
    return now - timedelta(hours=hours)


#: Scope fields to columns, for queries whose rows name their site, resource and project as such.
SCOPE_COLUMNS: dict[str, str] = {"site": "site", "resource": "resource", "project": "project"}


def window_rows(
    ctx: EvaluationContext,
    sql: str,
    scope: RuleScope,
    start: datetime,
    after: Sequence[Param],
    columns: dict[str, str] = SCOPE_COLUMNS,
) -> list[dict[str, Any]]:
    """Run the common shape of a windowed rule's query: `sql` opens with the partition and time
    bounds of [start, ctx.now] (`dt >= ? AND dt <= ? AND <from> >= ? AND <to> <= ?`) followed by one
    `{scope}` placeholder, and goes on with the parameters `after`."""
    scope_sql, scope_params = scope_filter(scope, columns)
    bounds = [*partitions(start, ctx.now), naive(start), naive(ctx.now)]
    return ctx.query(sql.format(scope=scope_sql), [*bounds, *scope_params, *after])
