"""The SAM template as source and as CloudFormation (transformed offline, no AWS calls)."""

from __future__ import annotations

import copy
import importlib.util
import os
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

from samtranslator.translator.transform import transform  # type: ignore[import-untyped]
from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
Resources = dict[str, dict[str, Any]]


class FixedManagedPolicies:
    """What `sam deploy` would look up in IAM, fixed (the template uses no managed policy anyway)."""

    def load(self) -> dict[str, str]:
        return {
            "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        }


@cache
def source_text() -> str:
    return TEMPLATE.read_text()


def source() -> dict[str, Any]:
    return copy.deepcopy(_source())


@cache
def _source() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml_parse(source_text())
    return parsed


def packaged(template: dict[str, Any]) -> dict[str, Any]:
    """Local code paths replaced by S3 URIs, as `sam package` leaves them."""
    out = copy.deepcopy(template)
    for name, resource in out["Resources"].items():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in props:
                props[key] = f"s3://tally-artifacts/{name}.zip"
    return out


def transformed(parameters: dict[str, str] | None = None) -> dict[str, Any]:
    return copy.deepcopy(_transformed(tuple(sorted((parameters or {}).items()))))


@cache
def _transformed(parameters: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    # The translator asks boto for a region to fill pseudo parameters; it makes no call.
    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1"}):
        result: dict[str, Any] = transform(packaged(_source()), dict(parameters), FixedManagedPolicies())
    return result


def of_type(resources: Resources, kind: str) -> Resources:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def ref_target(value: Any) -> str | None:
    """The logical id a Ref or GetAtt points at (None for anything else)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".")[0])
    return None


def sub_text(value: Any) -> str:
    """The template string of an Fn::Sub (or a plain string)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return str(sub if isinstance(sub, str) else sub[0])
    raise AssertionError(f"not a string or Fn::Sub: {value!r}")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def load_infra(name: str) -> ModuleType:
    """A script of infra/ (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(f"infra_{name}", REPO / "infra" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
