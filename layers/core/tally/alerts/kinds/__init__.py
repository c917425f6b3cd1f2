"""The rule kinds. Each module registers its kinds on import (tally.alerts.kinds.base.register);
a new kind is one class in a module imported here."""

from tally.alerts.kinds import allocation, idle, load, silent, stuck
from tally.alerts.kinds.base import (
    RULE_KINDS,
    AllocationSource,
    EvaluationContext,
    RuleKind,
    kind_of,
    register,
)

__all__ = [
    "RULE_KINDS",
    "AllocationSource",
    "EvaluationContext",
    "RuleKind",
    "allocation",
    "idle",
    "kind_of",
    "load",
    "register",
    "silent",
    "stuck",
]
