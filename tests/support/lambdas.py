"""A function's handler as Lambda runs it: its app.py loaded from functions/, and the context object."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from dataclasses import dataclass
from types import ModuleType

from tests.support.paths import REPO

REGION = "eu-west-1"
ACCOUNT = "123456789012"
_loaded = itertools.count(1)


def load_function(name: str) -> ModuleType:
    """A fresh copy of `functions/<name>/app.py`, so clients it caches at import see the current env.

    Each copy has its own module name (every function's module is called `app`) and is registered in
    `sys.modules` as Lambda's importer does: dataclasses look their module up while the class is built.
    """
    spec = importlib.util.spec_from_file_location(
        f"fn_{name}_{next(_loaded)}", REPO / "functions" / name / "app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that the handlers and Powertools read."""

    function_name: str
    remaining_ms: int = 900_000
    memory_limit_in_mb: int = 1024
    aws_request_id: str = "0f0e0d0c-0000-4000-8000-000000000001"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
