"""template.yaml: lint, offline SAM transform, and what the transformed stack must guarantee."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pytest

from tally.adapters.billing_table import partition_folder
from tally.adapters.warehouse import partition_key, partition_value
from tally.api.ingest_app import ROUTES as INGEST_ROUTES
from tally.billing.focus_schema import BILLING_SCHEMA
from tally.domain.records import KINDS, MODELS
from tally.domain.schema import stored_schema
from tests.infra.sam import (
    REPO,
    Resources,
    as_list,
    load_infra,
    of_type,
    ref_target,
    source,
    source_text,
    sub_text,
    transformed,
)
from tests.support.lambdas import load_function

XRAY_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
DATA_BUCKETS = ("WarehouseBucket", "BillingLandingBucket", "AthenaResultsBucket", "PortalBucket")
DAY = date(2026, 3, 7)


@pytest.fixture(scope="module")
def cfn() -> Resources:
    resources: Resources = transformed()["Resources"]
    return resources


@pytest.fixture(scope="module")
def functions(cfn: Resources) -> Resources:
    found = of_type(cfn, "AWS::Lambda::Function")
    assert set(found) == {
        "IngestFunction",
        "CompactionFunction",
        "ViewDeployerFunction",
        "BillingImporterFunction",
        "InvoiceVerifierFunction",
        "LogsImporterFunction",
        "AlertsEvaluatorFunction",
        "ApelPublisherFunction",
        "PeopleAuthoriserFunction",
        "SiteIngestFunction",
        "ForecasterFunction",
    }
    return found


# -- lint and transform ---------------------------------------------------------------------


def test_cfn_lint_passes_with_no_ignores() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    run = subprocess.run([str(cfn_lint), str(REPO / "template.yaml")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    template = source()
    assert "cfn-lint" not in template.get("Metadata", {})
    assert all("cfn-lint" not in r.get("Metadata", {}) for r in template["Resources"].values())
    assert not (REPO / ".cfnlintrc").exists() and not (REPO / ".cfnlintrc.yaml").exists()


def test_sam_transform_yields_plain_cloudformation(cfn: Resources) -> None:
    assert not [n for n, r in cfn.items() if r["Type"].startswith("AWS::Serverless::")]
    assert len(of_type(cfn, "AWS::Lambda::LayerVersion")) == 6


# -- identity and least privilege --------------------------------------------------------------


def roles_of(functions: Resources) -> dict[str, str]:
    out = {}
    for name, fn in functions.items():
        role = ref_target(fn["Properties"]["Role"])
        assert role is not None, f"{name} has no role reference"
        out[name] = role
    return out


def test_every_function_has_its_own_role_assumed_by_lambda_only(cfn: Resources, functions: Resources) -> None:
    roles = roles_of(functions)
    assert len(set(roles.values())) == len(functions)
    for role in roles.values():
        assert cfn[role]["Type"] == "AWS::IAM::Role"
        [statement] = cfn[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
        assert not cfn[role]["Properties"].get("ManagedPolicyArns")
    # A role is used by exactly one function, and by nothing else.
    users = [n for n, r in cfn.items() if any(v in roles.values() for v in _refs(r.get("Properties", {})))]
    assert sorted(users) == sorted(roles)


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        target = ref_target(node)
        if target:
            found.add(target)
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def policy_statements(cfn: Resources) -> list[tuple[str, dict[str, Any]]]:
    """Every statement of every identity and resource policy of the stack."""
    out: list[tuple[str, dict[str, Any]]] = []
    for name, resource in cfn.items():
        props = resource.get("Properties", {})
        documents = []
        if resource["Type"] == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") or resource["Type"] in (
            "AWS::S3::BucketPolicy",
            "AWS::SNS::TopicPolicy",
            "AWS::SQS::QueuePolicy",
        ):
            documents = [props["PolicyDocument"]]
        for document in documents:
            out.extend((name, s) for s in as_list(document["Statement"]))
    return out


def test_no_policy_allows_wildcard_actions(cfn: Resources) -> None:
    statements = policy_statements(cfn)
    assert len(statements) > 20
    for name, statement in statements:
        if statement["Effect"] != "Allow":
            continue
        assert "NotAction" not in statement and "NotResource" not in statement, name
        actions = as_list(statement["Action"])
        assert all(a != "*" and not a.endswith(":*") and "*" not in a for a in actions), (name, actions)
        if "*" in as_list(statement.get("Resource", [])):
            assert set(actions) <= XRAY_ACTIONS, f"{name}: only X-Ray may be granted on every resource"


def test_data_buckets_refuse_plain_http_and_allow_no_wildcards(cfn: Resources) -> None:
    policies = {
        ref_target(p["Properties"]["Bucket"]): p for p in of_type(cfn, "AWS::S3::BucketPolicy").values()
    }
    for bucket in DATA_BUCKETS:
        statements = as_list(policies[bucket]["Properties"]["PolicyDocument"]["Statement"])
        deny = [
            s for s in statements if s["Effect"] == "Deny" and "aws:SecureTransport" in str(s["Condition"])
        ]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        covered = {
            sub_text(r).replace(f"${{{bucket}.Arn}}", "ARN")
            if isinstance(r, dict) and "Fn::Sub" in r
            else ref_target(r)
            for r in as_list(deny[0]["Resource"])
        }
        assert covered == {bucket, "ARN/*"}
        for statement in statements:
            if statement["Effect"] == "Allow":
                assert all("*" not in a for a in as_list(statement["Action"]))
                assert statement["Principal"] != "*" and "Condition" in statement


def granted(cfn: Resources, role: str, service: str) -> set[str]:
    actions: set[str] = set()
    for policy in cfn[role]["Properties"]["Policies"]:
        for statement in as_list(policy["PolicyDocument"]["Statement"]):
            if statement["Effect"] == "Allow":
                actions |= {a for a in as_list(statement["Action"]) if a.startswith(f"{service}:")}
    return actions


def calls_on(path: Path, receiver: str) -> set[str]:
    """Methods called on `<receiver>.<method>(...)` in a source file (e.g. `self._db.put_item`)."""
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and ast.unparse(node.func.value) == receiver
        ):
            out.add(node.func.attr)
    return out


def api_action(service: str, method: str) -> str:
    return f"{service}:" + "".join(part.capitalize() for part in method.split("_"))


def test_roles_grant_exactly_the_calls_the_code_makes(cfn: Resources) -> None:
    dynamo = calls_on(REPO / "layers/core/tally/adapters/control_dynamodb.py", "self._db")
    assert {"get_item", "put_item", "update_item", "query"} <= dynamo
    # AWS authorises a transaction by the actions inside it ("Using IAM with DynamoDB transactions"):
    # the control store's transactions hold conditional puts and one update.
    needed = {api_action("dynamodb", m) for m in dynamo} - {"dynamodb:TransactWriteItems"}
    assert "transact_write_items" not in dynamo or {"dynamodb:PutItem", "dynamodb:UpdateItem"} <= needed
    assert granted(cfn, "IngestRole", "dynamodb") == needed
    # The view deployer runs its statements through the Athena engine's start and wait (no results).
    engine = REPO / "layers/core/tally/query/athena_engine.py"
    athena = calls_on(engine, "self.client") - {"get_paginator"}
    assert granted(cfn, "ViewDeployerRole", "athena") == {api_action("athena", m) for m in athena}
    reports = calls_on(engine, "self.client") - {"get_paginator"} | paginated(engine, "self.client")
    assert "get_query_results" in reports
    assert granted(cfn, "IngestRole", "athena") == {api_action("athena", m) for m in reports}
    for role in ("CompactionRole", "ViewDeployerRole", "InvoiceVerifierRole"):
        assert not granted(cfn, role, "dynamodb"), role
    # The billing importer reads and claims billing account owners, nothing else of the table.
    assert granted(cfn, "BillingImporterRole", "dynamodb") == {"dynamodb:GetItem", "dynamodb:PutItem"}
    assert "s3:DeleteObject" in granted(cfn, "CompactionRole", "s3")
    assert "s3:DeleteObject" not in granted(cfn, "ViewDeployerRole", "s3")
    assert "s3:DeleteObject" not in granted(cfn, "InvoiceVerifierRole", "s3")
    # The API deletes only superseded billing files (restatements), never usage records.
    deletes = [
        sub_text(s["Resource"])
        for p in cfn["IngestRole"]["Properties"]["Policies"]
        for s in as_list(p["PolicyDocument"]["Statement"])
        if "s3:DeleteObject" in as_list(s["Action"])
    ]
    assert deletes == [
        "${WarehouseBucket.Arn}/warehouse/" + partition_folder("aws", "2026-01").split("/")[0] + "/*"
    ]


def paginated(path: Path, receiver: str) -> set[str]:
    """Operations paginated through `<receiver>.get_paginator("<operation>")`."""
    tree = ast.parse(path.read_text())
    return {
        str(node.args[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and ast.unparse(node.func) == f"{receiver}.get_paginator"
        and isinstance(node.args[0], ast.Constant)
    }


def test_object_permissions_are_scoped_to_a_prefix(cfn: Resources) -> None:
    landing_readers = []
    for role in of_type(cfn, "AWS::IAM::Role"):
        prefixes = [p for _, p in object_grants(cfn, role)]
        for policy in cfn[role]["Properties"].get("Policies", []):
            for statement in as_list(policy["PolicyDocument"]["Statement"]):
                object_actions = [a for a in as_list(statement["Action"]) if "Object" in a]
                if not object_actions:
                    continue
                for resource in as_list(statement["Resource"]):
                    text = sub_text(resource)
                    if re.fullmatch(r"\$\{WarehouseBucket\.Arn\}/warehouse(/[a-z_]+)*/", text):
                        # pyarrow's folder marker of an ancestor of a granted prefix: that exact key.
                        assert object_actions == ["s3:PutObject"], (role, text)
                        marker = text.removeprefix("${WarehouseBucket.Arn}/warehouse/")
                        assert any(p != marker and p.startswith(marker) for p in prefixes), (role, text)
                        continue
                    if text == "${BillingLandingBucket.Arn}/*":
                        # The landing bucket holds billing exports only; its one reader may read it all.
                        landing_readers.append(role)
                        assert set(object_actions) <= {"s3:GetObject", "s3:GetObjectVersion"}, role
                        continue
                    assert re.fullmatch(r"\$\{\w+Bucket\.Arn\}(/[a-z_]+)+/\*", text), (role, text)
    assert landing_readers == ["BillingImporterRole"]


def object_grants(cfn: Resources, role: str) -> set[tuple[str, str]]:
    """(action, object prefix under the warehouse root or `landing:`) pairs a role is allowed.

    Exact folder-marker keys (no `*`) that pyarrow writes for a key's ancestors are left out.
    """
    out: set[tuple[str, str]] = set()
    for policy in cfn[role]["Properties"].get("Policies", []):
        for statement in as_list(policy["PolicyDocument"]["Statement"]):
            for action in as_list(statement["Action"]):
                if not action.startswith("s3:"):
                    continue
                for resource in as_list(statement["Resource"]):
                    if ref_target(resource) or not sub_text(resource).endswith("*"):
                        continue  # the bucket itself (listing), or a folder marker
                    text = sub_text(resource).removesuffix("*")
                    text = text.replace("${WarehouseBucket.Arn}/warehouse/", "")
                    text = text.replace("${BillingLandingBucket.Arn}/", "landing:")
                    out.add((action, text))
    return out


def test_billing_importer_role_reads_landed_files_and_writes_only_billing_and_its_quarantine(
    cfn: Resources,
) -> None:
    from tally.adapters.billing_table import BILLING_TABLE, MANIFEST_PREFIX, QUARANTINE_PREFIX

    assert MANIFEST_PREFIX.startswith(BILLING_TABLE + "/")  # manifests are covered by billing/
    billing, quarantine = f"{BILLING_TABLE}/", f"{QUARANTINE_PREFIX}/"
    write = {"s3:PutObject", "s3:AbortMultipartUpload"}
    assert object_grants(cfn, "BillingImporterRole") == (
        {("s3:GetObject", "landing:"), ("s3:GetObjectVersion", "landing:")}
        | {(a, billing) for a in {"s3:GetObject", "s3:DeleteObject", *write}}
        | {(a, quarantine) for a in write}
    )
    # The handler's only direct S3 call: the landed object, by the version the event names.
    assert calls_on(REPO / "layers/core/tally/adapters/s3_landing.py", "self.client") == {"get_object"}
    for service in ("athena", "glue", "sns"):
        assert not granted(cfn, "BillingImporterRole", service), service


def test_invoice_verifier_role_reads_inputs_writes_results_and_publishes_to_finance_only(
    cfn: Resources,
) -> None:
    reconcile = REPO / "layers/core/tally/services/reconcile.py"
    # The verifier lists the billing table through its adapter.
    code = reconcile.read_text() + (REPO / "layers/core/tally/adapters/billing_table.py").read_text()
    for prefix in ('"billing"', 'f"vms/dt=', 'f"reference/invoices/', 'f"reports/reconciliation/'):
        assert prefix in code, prefix  # the prefixes the grants below are for
    assert 'partition_key("reconciliation"' in code
    reads = {"billing/", "vms/", "reference/invoices/", "reports/reconciliation/"}
    writes = {"reconciliation/", "reports/reconciliation/"}
    assert object_grants(cfn, "InvoiceVerifierRole") == (
        {("s3:GetObject", p) for p in reads}
        | {(a, p) for p in writes for a in ("s3:PutObject", "s3:AbortMultipartUpload")}
    )
    # The verifier's notifier (adapters/sns.py) is its only SNS client.
    assert calls_on(REPO / "layers/core/tally/adapters/sns.py", "client") == {"publish"}
    assert granted(cfn, "InvoiceVerifierRole", "sns") == {api_action("sns", "publish")}
    publish = [
        s
        for p in cfn["InvoiceVerifierRole"]["Properties"]["Policies"]
        for s in as_list(p["PolicyDocument"]["Statement"])
        if "sns:Publish" in as_list(s["Action"])
    ]
    assert [ref_target(s["Resource"]) for s in publish] == ["FinanceTopic"]
    for service in ("dynamodb", "athena", "glue"):
        assert not granted(cfn, "InvoiceVerifierRole", service), service
    # No other role may publish to the finance topic; the alerts evaluator publishes to its own only.
    for name in of_type(cfn, "AWS::IAM::Role"):
        if (
            name in ("InvoiceVerifierRole", "AlertsEvaluatorRole")
            or "Policies" not in cfn[name]["Properties"]
        ):
            continue
        assert not granted(cfn, name, "sns"), name
    alerts_publish = [
        s
        for p in cfn["AlertsEvaluatorRole"]["Properties"]["Policies"]
        for s in as_list(p["PolicyDocument"]["Statement"])
        if "sns:Publish" in as_list(s["Action"])
    ]
    assert [ref_target(s["Resource"]) for s in alerts_publish] == ["AlertsTopic"]


def test_only_the_api_and_the_alerts_evaluator_may_invoke_the_forecaster(cfn: Resources) -> None:
    invokers = {}
    for name, statement in policy_statements(cfn):
        if statement["Effect"] == "Allow" and "lambda:InvokeFunction" in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                target = ref_target(resource)
                if target == "ForecasterFunction":
                    assert as_list(statement["Action"]) == ["lambda:InvokeFunction"], name
                    invokers[name] = statement
    assert set(invokers) == {"IngestRole", "AlertsEvaluatorRole"}
    # No service may invoke it (no resource policy), and it may only log and trace.
    assert not [
        p
        for p in of_type(cfn, "AWS::Lambda::Permission").values()
        if ref_target(p["Properties"]["FunctionName"]) == "ForecasterFunction"
    ]
    actions = {
        a
        for p in cfn["ForecasterRole"]["Properties"]["Policies"]
        for s in as_list(p["PolicyDocument"]["Statement"])
        for a in as_list(s["Action"])
    }
    assert actions == {"logs:CreateLogStream", "logs:PutLogEvents"} | XRAY_ACTIONS


# -- triggers, dead letters, alarms -----------------------------------------------------------------


def test_every_schedule_and_event_source_targets_an_existing_function(
    cfn: Resources, functions: Resources
) -> None:
    schedules = of_type(cfn, "AWS::Scheduler::Schedule")
    assert schedules
    for name, schedule in schedules.items():
        target = schedule["Properties"]["Target"]
        function = ref_target(target["Arn"])
        assert function in functions, name
        role = ref_target(target["RoleArn"])
        invoke = [
            s
            for p in cfn[str(role)]["Properties"]["Policies"]
            for s in as_list(p["PolicyDocument"]["Statement"])
            if "lambda:InvokeFunction" in as_list(s["Action"])
        ]
        assert [ref_target(s["Resource"]) for s in invoke] == [function]
        assert ref_target(target["DeadLetterConfig"]["Arn"]) in of_type(cfn, "AWS::SQS::Queue")
    rules = of_type(cfn, "AWS::Events::Rule")
    assert rules
    for name, rule in rules.items():
        for target in rule["Properties"]["Targets"]:
            assert ref_target(target["Arn"]) in functions, name
            assert ref_target(target["DeadLetterConfig"]["Arn"]) in of_type(cfn, "AWS::SQS::Queue"), name
    for name, permission in of_type(cfn, "AWS::Lambda::Permission").items():
        assert ref_target(permission["Properties"]["FunctionName"]) in functions, name
    # EventBridge may invoke a function only from the rule that targets it.
    invoked_by_rules = {
        name: str(ref_target(rule["Properties"]["Targets"][0]["Arn"])) for name, rule in rules.items()
    }
    for name, permission in of_type(cfn, "AWS::Lambda::Permission").items():
        props = permission["Properties"]
        if props["Principal"] == "events.amazonaws.com":
            source_rule = str(ref_target(props["SourceArn"]))
            assert source_rule in invoked_by_rules, name
            assert invoked_by_rules[source_rule] == ref_target(props["FunctionName"]), name
    body = str(cfn["HttpApi"]["Properties"]["Body"])
    integrations = set(re.findall(r"functions/\$\{(\w+)\.Arn\}/invocations", body))
    assert integrations == {"IngestFunction", "SiteIngestFunction"}
    for name, custom in cfn.items():
        if custom["Type"].startswith("Custom::"):
            assert ref_target(custom["Properties"]["ServiceToken"]) in functions, name
    for kind in ("AWS::Lambda::EventInvokeConfig", "AWS::Lambda::Version", "AWS::Lambda::Alias"):
        for name, resource in of_type(cfn, kind).items():
            assert ref_target(resource["Properties"]["FunctionName"]) in functions, name


def async_functions(cfn: Resources) -> set[str]:
    """Functions invoked asynchronously: by a schedule, an EventBridge rule or as a custom resource."""
    out = {
        str(ref_target(s["Properties"]["Target"]["Arn"]))
        for s in of_type(cfn, "AWS::Scheduler::Schedule").values()
    }
    out |= {
        str(ref_target(t["Arn"]))
        for r in of_type(cfn, "AWS::Events::Rule").values()
        for t in r["Properties"]["Targets"]
    }
    out |= {
        str(ref_target(r["Properties"]["ServiceToken"]))
        for r in cfn.values()
        if r["Type"].startswith("Custom::")
    }
    return out


def alarms_on(cfn: Resources, metric: str, dimension: str, target: str) -> list[dict[str, Any]]:
    return [
        a["Properties"]
        for a in of_type(cfn, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == metric
        and any(
            d["Name"] == dimension and ref_target(d["Value"]) == target for d in a["Properties"]["Dimensions"]
        )
    ]


def test_async_functions_have_a_dead_letter_queue_they_may_write_and_an_alarm(
    cfn: Resources, functions: Resources
) -> None:
    asynchronous = async_functions(cfn)
    assert asynchronous == {
        "CompactionFunction",
        "ViewDeployerFunction",
        "BillingImporterFunction",
        "InvoiceVerifierFunction",
        "LogsImporterFunction",
        "AlertsEvaluatorFunction",
        "ApelPublisherFunction",
    }
    for name in asynchronous:
        queue = ref_target(functions[name]["Properties"]["DeadLetterConfig"]["TargetArn"])
        assert queue is not None and cfn[queue]["Type"] == "AWS::SQS::Queue"
        role = roles_of(functions)[name]
        sends = [
            s
            for p in cfn[role]["Properties"]["Policies"]
            for s in as_list(p["PolicyDocument"]["Statement"])
            if "sqs:SendMessage" in as_list(s["Action"])
        ]
        assert [ref_target(s["Resource"]) for s in sends] == [queue]
        depth = alarms_on(cfn, "ApproximateNumberOfMessagesVisible", "QueueName", queue)
        assert depth and depth[0]["AlarmActions"] == [{"Ref": "OpsTopic"}]


def test_every_function_has_error_and_throttle_alarms(cfn: Resources, functions: Resources) -> None:
    for name in functions:
        for metric in ("Errors", "Throttles"):
            [alarm] = alarms_on(cfn, metric, "FunctionName", name)
            assert alarm["Namespace"] == "AWS/Lambda"
            assert alarm["AlarmActions"] == [{"Ref": "OpsTopic"}]


# -- functions ----------------------------------------------------------------------------------


def test_functions_run_arm64_python_with_the_core_layer_logs_and_traces(
    cfn: Resources, functions: Resources
) -> None:
    # The SAM transform names each layer version <LogicalId><content hash>.
    layers = {n.rstrip("0123456789abcdef"): n for n in of_type(cfn, "AWS::Lambda::LayerVersion")}
    assert sorted(layers) == [
        "TallyApelLayer",
        "TallyAuthLayer",
        "TallyCoreLayer",
        "TallyDocumentsLayer",
        "TallyForecastLayer",
        "TallyNumericLayer",
    ]
    extra = {
        "InvoiceVerifierFunction": ["TallyNumericLayer"],
        "IngestFunction": ["TallyAuthLayer", "TallyDocumentsLayer"],
        "PeopleAuthoriserFunction": ["TallyAuthLayer"],
        "SiteIngestFunction": ["TallyAuthLayer"],
        "ApelPublisherFunction": ["TallyAuthLayer", "TallyApelLayer"],
        "AlertsEvaluatorFunction": ["TallyNumericLayer", "TallyDocumentsLayer"],
    }
    for name, fn in functions.items():
        props = fn["Properties"]
        assert props["Architectures"] == ["arm64"], name
        assert props["Runtime"] in ("python3.12", "python3.13"), name
        # numpy (the numeric layer) is the verifier's and the alerts evaluator's: the others load
        # without its 47 MB; JWT verification (the auth layer) the API's and the people authoriser's;
        # PDFs (the documents layer) the API's (invoices) and the alerts evaluator's (report
        # subscriptions); the AMS client (the apel layer) the APEL publisher's, which also takes the
        # auth layer for its cryptography (S/MIME signing).
        # The forecaster runs on its own layer alone (statsmodels & co do not fit beside the core).
        expected = ["TallyForecastLayer"] if name == "ForecasterFunction" else ["TallyCoreLayer"]
        expected += extra.get(name, [])
        assert [ref_target(x) for x in props["Layers"]] == [layers[e] for e in expected], name
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        assert 128 <= props["MemorySize"] <= 10240 and 1 <= props["Timeout"] <= 900, name
        group = ref_target(props["LoggingConfig"]["LogGroup"])
        assert cfn[str(group)]["Type"] == "AWS::Logs::LogGroup"
        assert cfn[str(group)]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
    assert functions["IngestFunction"]["Properties"]["Timeout"] < 30  # the HTTP API gives up at 30 s
    assert functions["CompactionFunction"]["Properties"]["ReservedConcurrentExecutions"] == {
        "Fn::If": [
            "HasCompactionReservedConcurrency",
            {"Ref": "CompactionReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert source()["Parameters"]["CompactionReservedConcurrency"]["Default"] == 1
    for name in ("IngestFunction", "SiteIngestFunction"):
        assert functions[name]["Properties"]["Timeout"] < 30, name
        assert "Fn::If" in functions[name]["Properties"]["ReservedConcurrentExecutions"], name


def test_billing_importer_takes_landed_objects_one_at_a_time(cfn: Resources, functions: Resources) -> None:
    props = functions["BillingImporterFunction"]["Properties"]
    # Two imports restating one partition at once are not coordinated (tally.services.billing).
    assert props["ReservedConcurrentExecutions"] == {
        "Fn::If": [
            "HasBillingImporterReservedConcurrency",
            {"Ref": "BillingImporterReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }
    parameter = source()["Parameters"]["BillingImporterReservedConcurrency"]
    assert parameter["Default"] == 1 and parameter["AllowedValues"] == [1, -1]
    # bench/billing.py: a million-row CUR peaks at about 2 GB RSS; the file is first saved to /tmp.
    assert props["MemorySize"] >= 2 * 2048
    assert props["EphemeralStorage"]["Size"] >= 2048
    rules = {
        ref_target(r["Properties"]["Targets"][0]["Arn"]): (n, r)
        for n, r in of_type(cfn, "AWS::Events::Rule").items()
    }
    assert set(rules) == {"BillingImporterFunction", "LogsImporterFunction"}
    name, rule = rules["BillingImporterFunction"]
    # Landed raw logs (logs/) are the logs importer's, everything else the billing importer's.
    keys = rule["Properties"]["EventPattern"]["detail"]["object"]["key"]
    assert keys == [{"anything-but": {"prefix": "logs/"}}]
    logs_pattern = rules["LogsImporterFunction"][1]["Properties"]["EventPattern"]["detail"]
    assert logs_pattern["object"]["key"] == [{"prefix": "logs/"}]
    assert [ref_target(b) for b in logs_pattern["bucket"]["name"]] == ["BillingLandingBucket"]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert [ref_target(b) for b in pattern["detail"]["bucket"]["name"]] == ["BillingLandingBucket"]
    landing = cfn["BillingLandingBucket"]["Properties"]["NotificationConfiguration"]
    assert landing["EventBridgeConfiguration"] == {"EventBridgeEnabled": True}
    [target] = rule["Properties"]["Targets"]
    assert ref_target(target["Arn"]) == "BillingImporterFunction"
    # The rule's own dead letters go to the function's queue, which lets in this rule only.
    queue = ref_target(target["DeadLetterConfig"]["Arn"])
    assert queue == ref_target(props["DeadLetterConfig"]["TargetArn"])
    [policy] = [
        p
        for p in of_type(cfn, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue}]
    ]
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert ref_target(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == name
    # The event the rule passes on is one the handler understands.
    importer = load_function("billing_importer")
    from tally.adapters.s3_landing import LandedObject

    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "landing"}, "object": {"key": "aws/cur 1.csv.gz", "version-id": "v1"}},
    }
    assert importer.landed_objects(event) == [LandedObject("landing", "aws/cur 1.csv.gz", "v1")]


def test_invoice_verifier_runs_daily_as_of_the_scheduled_time(cfn: Resources, functions: Resources) -> None:
    [schedule] = [
        s["Properties"]
        for s in of_type(cfn, "AWS::Scheduler::Schedule").values()
        if ref_target(s["Properties"]["Target"]["Arn"]) == "InvoiceVerifierFunction"
    ]
    assert schedule["ScheduleExpression"] == {"Ref": "InvoiceVerifierSchedule"}
    assert source()["Parameters"]["InvoiceVerifierSchedule"]["Default"].startswith("cron(")
    target = schedule["Target"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert ref_target(target["DeadLetterConfig"]["Arn"]) == "InvoiceVerifierDeadLetterQueue"
    # A retried run must judge as of the scheduled time (same run id, no second run).
    rendered = target["Input"].replace("<aws.scheduler.scheduled-time>", "2026-03-07T06:00:00Z")
    load_function("invoice_verifier")
    from tally.domain.schedule_event import event_time

    assert event_time(json.loads(rendered)) == datetime(2026, 3, 7, 6, tzinfo=UTC)
    env = functions["InvoiceVerifierFunction"]["Properties"]["Environment"]["Variables"]
    assert ref_target(env["TALLY_FINANCE_TOPIC_ARN"]) == "FinanceTopic"
    assert env["TALLY_RECONCILE_SETTLE_HOURS"] == {"Ref": "ReconcileSettleHours"}
    assert source()["Parameters"]["ReconcileSettleHours"]["Default"] == 48
    assert "ReservedConcurrentExecutions" not in functions["InvoiceVerifierFunction"]["Properties"]
    # The verifier streams the period: bench/billing.py --reconcile-scaling measured 1.0 GB at
    # 2,000 VMs x 30 days with chunks of a million samples, the chunk the memory is sized for.
    assert env["TALLY_RECONCILE_CHUNK_SAMPLES"] == "1000000"
    assert functions["InvoiceVerifierFunction"]["Properties"]["MemorySize"] == 2048


def test_every_handler_exists_and_is_built_by_the_makefile(tmp_path: Path) -> None:
    build = load_infra("build")
    makefile = (REPO / "infra/Makefile").read_text()
    for name, resource in source()["Resources"].items():
        if resource["Type"] not in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion"):
            continue
        assert resource["Metadata"]["BuildMethod"] == "makefile", name
        assert resource["Metadata"]["ContextPath"] == "infra", name
        assert re.search(rf"^build-{name}:", makefile, re.M), f"infra/Makefile has no build-{name}"
        if resource["Type"] == "AWS::Serverless::Function":
            code = Path(resource["Properties"]["CodeUri"])
            module, attr = resource["Properties"]["Handler"].rsplit(".", 1)
            built = build.build_function(code.name, tmp_path / name)
            tree = ast.parse((built / f"{module}.py").read_text())
            assigned = {
                t.id
                for n in tree.body
                if isinstance(n, ast.Assign)
                for t in n.targets
                if isinstance(t, ast.Name)
            }
            assert attr in assigned, f"{name}: {module}.py defines no {attr}"


def test_layer_requirements_are_the_locked_closure_from_constraints() -> None:
    build = load_infra("build")
    assert (REPO / "layers/core/requirements.txt").read_text() == build.render_lock("core")
    assert (REPO / "layers/numeric/requirements.txt").read_text() == build.render_lock("numeric")
    assert (REPO / "layers/auth/requirements.txt").read_text() == build.render_lock("auth")
    assert (REPO / "layers/apel/requirements.txt").read_text() == build.render_lock("apel")
    assert (REPO / "layers/documents/requirements.txt").read_text() == build.render_lock("documents")
    assert (REPO / "layers/forecast/requirements.txt").read_text() == build.render_lock("forecast")
    forecast = {line.split("==")[0] for line in build.lock("forecast")}
    assert {"numpy", "scipy", "pandas", "patsy", "statsmodels"} <= forecast
    assert not forecast & {"pyarrow", "fastapi", "pydantic", "duckdb", "boto3"}
    locked = {line.split("==")[0] for line in build.lock("core")}
    assert {"pyarrow", "fastapi", "mangum", "pydantic", "aws-lambda-powertools"} <= locked
    assert not locked & {
        "duckdb",
        "pandas",
        "boto3",
        "botocore",
        "uvicorn",
        "numpy",
        "joserfc",
        "cryptography",
        "reportlab",
        "pillow",
    }
    assert [line.split("==")[0] for line in build.lock("numeric")] == ["numpy"]
    assert [line.split("==")[0] for line in build.lock("auth")] == [
        "argon2-cffi",
        "argon2-cffi-bindings",
        "cffi",
        "cryptography",
        "joserfc",
        "pycparser",
    ]
    # The AMS client and requests only; idna comes with the core layer, urllib3 with the runtime.
    assert [line.split("==")[0] for line in build.lock("apel")] == [
        "argo-ams-library",
        "certifi",
        "charset-normalizer",
        "requests",
    ]
    assert [line.split("==")[0] for line in build.lock("documents")] == [
        "charset-normalizer",
        "pillow",
        "reportlab",
    ]


#: Imported only by code paths Lambda never takes (the local query engine); the API's fresh-venv
#: test in test_artifacts.py checks it stays unloaded.
#: dirq writes the SSM outgoing queue on the host (`tally apel publish`); on Lambda the publisher
#: writes that layout to S3 itself or publishes to AMS.
LOCAL_ONLY_PACKAGES = {"duckdb", "dirq"}
#: Loaded by the API and the alerts evaluator (allocation rules) only on a first in-process forecast
#: (tally.foresight.forecast), which they never make on AWS: there the forecaster function, on a
#: layer of its own, forecasts for them (statsmodels with scipy and pandas is about 205 MB unzipped
#: on arm64, more than the 250 MB Lambda limit leaves beside the core layer). Where neither is to
#: be had, usage forecasts answer 503 and an allocation's status says so
#: (tests/functional/test_foresight_http.py and test_forecaster_lambda.py run those cases).
FORECAST_PACKAGES = {"numpy", "statsmodels", "scipy"}


def third_party_imports(reach: Reach) -> set[str]:
    """Top-level names of the non-standard-library packages the reachable code imports (lazily or not)."""
    found: set[str] = set()
    for node in reach.nodes():
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    # tally_agent ships in the core layer beside tally (infra/build.py): the server reads StAR with it.
    shipped = ("tally", "tally_agent", "__future__")
    return {n for n in found if n not in sys.stdlib_module_names and n not in shipped}


def test_every_package_a_handler_imports_is_in_the_layer_or_the_runtime(functions: Resources) -> None:
    from importlib.metadata import packages_distributions

    build = load_infra("build")
    core = {line.split("==")[0] for line in build.lock("core")} | set(build.RUNTIME_PROVIDED)
    numeric = {line.split("==")[0] for line in build.lock("numeric")}
    auth = {line.split("==")[0] for line in build.lock("auth")}
    apel = {line.split("==")[0] for line in build.lock("apel")}
    documents = {line.split("==")[0] for line in build.lock("documents")}
    distributions = packages_distributions()
    sources = source()["Resources"]
    for name in functions:
        shipped = core | (
            numeric if name in ("InvoiceVerifierFunction", "AlertsEvaluatorFunction") else set()
        )
        shipped |= auth | documents if name == "IngestFunction" else set()
        shipped |= auth if name in ("PeopleAuthoriserFunction", "SiteIngestFunction") else set()
        shipped |= documents if name == "AlertsEvaluatorFunction" else set()  # subscription PDFs
        shipped |= apel | auth if name == "ApelPublisherFunction" else set()
        props = sources[name]["Properties"]
        entry = REPO / (props.get("CodeUri") or props["Code"]) / "app.py"
        if name == "ForecasterFunction":
            # Its own layer alone: the forecast packages and the few modules of Tally it copies.
            shipped = {line.split("==")[0] for line in build.lock("forecast")} | set(build.RUNTIME_PROVIDED)
            tally = REPO / "layers/core/tally"
            reached = {str(f.relative_to(tally)) for f in closure(entry).files if f.is_relative_to(tally)}
            assert reached and reached <= set(build.FORECAST_MODULES), reached
        optional = FORECAST_PACKAGES if name in ("IngestFunction", "AlertsEvaluatorFunction") else set()
        for module in sorted(third_party_imports(closure(entry)) - LOCAL_ONLY_PACKAGES - optional):
            dists = {build.canonical(d) for d in distributions.get(module, [module])}
            assert dists & shipped, f"{name} imports {module}, which neither the layer nor Lambda provides"
    verifier = third_party_imports(closure(REPO / "functions/invoice_verifier/app.py"))
    assert "numpy" in verifier  # what this check caught once
    # Every function reads the settings, whose single sign-on section needs no JWT library.
    for name in ("compaction", "billing_importer", "view_deployer"):
        assert "joserfc" not in third_party_imports(closure(REPO / f"functions/{name}/app.py")), name


# -- environment ----------------------------------------------------------------------------------

LAMBDA_PROVIDED = {"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME", "_X_AMZN_TRACE_ID"}


def module_file(module: str) -> Path | None:
    if not module.startswith("tally"):
        return None
    base = REPO / "layers/core" / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@dataclass
class Reach:
    """What of the code a handler can run: its files, and in them the code that runs."""

    files: list[Path]
    code: list[ast.AST]

    def nodes(self) -> Iterator[ast.AST]:
        for block in self.code:
            yield from ast.walk(block)


#: Decorators that do not hand the function to a caller of their own (a framework, a registry):
#: such a function runs only when code names it.
_PLAIN_DECORATORS = {"property", "cached_property", "staticmethod", "classmethod", "contextmanager", "cache"}


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _split(tree: ast.AST) -> tuple[list[ast.AST], dict[str, list[ast.AST]]]:
    """(code that runs on import, key -> bodies that run once the key is used). A module's function
    is keyed by its name (called by name or as `module.name`), a method by `.name` (reached through
    an attribute only). `if TYPE_CHECKING:` blocks never run; a function given to a decorator call
    (a route) or a dunder method runs."""
    eager: list[ast.AST] = []
    deferred: dict[str, list[ast.AST]] = {}

    def visit(statements: list[ast.stmt], in_class: bool) -> None:
        for node in statements:
            if _is_type_checking(node):
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                eager.extend([*node.decorator_list, node.args])
                plain = all(ast.unparse(d).split(".")[-1] in _PLAIN_DECORATORS for d in node.decorator_list)
                if not plain or node.name.startswith("__"):
                    eager.extend(node.body)
                else:
                    deferred.setdefault(f".{node.name}" if in_class else node.name, []).extend(node.body)
            elif isinstance(node, ast.ClassDef):
                eager.extend([*node.bases, *node.decorator_list])
                visit(node.body, True)
            else:
                eager.append(node)

    visit(getattr(tree, "body", []), False)
    return eager, deferred


def closure(entry: Path) -> Reach:
    """The handler file and every tally module its code can reach, directly or not, lazy imports
    too. Module-level code runs on import; a function's body (with the imports in it) counts once
    code that runs uses its name (calls it, reads the attribute, passes it on): so a composition
    root's component is reached only by a handler that asks for it."""
    files: dict[Path, None] = {}
    code: list[ast.AST] = []
    deferred: dict[str, list[ast.AST]] = {}
    used: set[str] = set()
    todo: list[ast.AST] = []

    def load(path: Path) -> None:
        if path in files:
            return
        files[path] = None
        eager, later = _split(ast.parse(path.read_text()))
        todo.extend(eager)
        for key, bodies in later.items():
            if key in used or (not key.startswith(".") and f".{key}" in used):
                todo.extend(bodies)
            else:
                deferred.setdefault(key, []).extend(bodies)

    load(entry)
    while todo:
        block = todo.pop()
        code.append(block)
        for node in ast.walk(block):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                used.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                used.update((node.attr, f".{node.attr}"))  # `module.function` or `object.method`
            for key in used & deferred.keys():
                todo.extend(deferred.pop(key))
            for name in names:
                found = module_file(name)
                if found:
                    load(found)
    return Reach(list(files), code)


def env_reads(reach: Reach) -> tuple[set[str], set[str]]:
    """(required, optional) environment variable names the code reads."""
    required: set[str] = set()
    optional: set[str] = set()
    attributes: set[str] = set()
    settings: list[tuple[str, str, bool]] = []  # (env name, field, has a usable default)
    chains: set[tuple[str, str]] = set()  # (`section`, `field`) of `...section.field` reads
    for node in reach.nodes():
        if isinstance(node, ast.Attribute):
            attributes.add(node.attr)
            owner = node.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            chains.add((name, node.attr))
        if (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) == "os.environ"
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            required.add(node.slice.value)
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("os.environ.get", "os.getenv"):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                optional.add(first.value)
    classes = {
        node.name: node
        for path in reach.files
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef)
    }
    for cls in classes.values():
        if any(ast.unparse(b) == "BaseSettings" for b in cls.bases):
            settings.extend(_settings_fields(cls, classes))
    for env, field_name, has_default in settings:
        # A None default means "not configured": required when the code uses the field (a
        # section's field: when the code reads it from the section).
        section, _, leaf = field_name.rpartition(".")
        used = (section, leaf) in chains if section else field_name in attributes
        if not has_default and used and not env.endswith("_ENDPOINT_URL"):
            required.add(env)
        else:
            optional.add(env)
    return required, optional - required


def _settings_fields(
    cls: ast.ClassDef, classes: dict[str, ast.ClassDef], prefix: str = ""
) -> list[tuple[str, str, bool]]:
    """(env name, field, has a usable default) of a settings class; a field whose type is a model
    (a section) stands for the section's fields (`section.field`), read from the environment as
    `<prefix><section><delimiter><field>`."""
    delimiter = None
    out: list[tuple[str, str, bool]] = []
    for node in cls.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "model_config":
            for keyword in getattr(node.value, "keywords", []):
                if keyword.arg == "env_prefix":
                    prefix = ast.literal_eval(keyword.value)
                if keyword.arg == "env_nested_delimiter":
                    delimiter = ast.literal_eval(keyword.value)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name = node.target.id
            section = classes.get(ast.unparse(node.annotation))
            if section is not None and delimiter is not None:
                fields = _settings_fields(section, classes, f"{prefix}{name}{delimiter}")
                out.extend((env, f"{name}.{leaf}", default) for env, leaf, default in fields)
                continue
            env = f"{prefix}{name}".upper()
            default = node.value
            if isinstance(default, ast.Call) and ast.unparse(default.func) == "Field":
                for keyword in default.keywords:
                    if keyword.arg == "validation_alias":
                        env = ast.literal_eval(keyword.value)
                given = {k.arg: k.value for k in default.keywords}
                default = given.get("default", default.args[0] if default.args else None)
            has_default = default is not None and not (
                isinstance(default, ast.Constant) and default.value is None
            )
            out.append((env, name, has_default))
    return out


def test_every_environment_variable_a_handler_needs_is_set_and_none_is_unused(
    cfn: Resources, functions: Resources
) -> None:
    sources = source()["Resources"]
    for name, fn in functions.items():
        env = set(fn["Properties"].get("Environment", {}).get("Variables", {}))
        props = sources[name]["Properties"]
        entry = REPO / (props.get("CodeUri") or props["Code"]) / "app.py"
        required, optional = env_reads(closure(entry))
        missing = required - env - LAMBDA_PROVIDED
        assert not missing, f"{name} reads {sorted(missing)} but the template does not set them"
        unused = {v for v in env if v.startswith("TALLY_")} - required - optional
        assert not unused, f"{name} sets {sorted(unused)} but nothing reads them"
    ingest_env = functions["IngestFunction"]["Properties"]["Environment"]["Variables"]
    assert {"TALLY_MODE", "TALLY_WAREHOUSE_URI", "TALLY_CONTROL_TABLE"} <= set(ingest_env)
    assert ingest_env["TALLY_MODE"] == "aws"
    # The API and the alerts evaluator forecast through the forecaster function.
    evaluator_env = functions["AlertsEvaluatorFunction"]["Properties"]["Environment"]["Variables"]
    for variables in (ingest_env, evaluator_env):
        assert ref_target(variables["TALLY_FORECASTER_FUNCTION"]) == "ForecasterFunction"


def test_the_environment_check_sees_what_the_core_needs() -> None:
    """The static reader itself: the ingest closure needs the warehouse and the control table."""
    required, optional = env_reads(closure(REPO / "functions/ingest_api/app.py"))
    assert {"TALLY_WAREHOUSE_URI", "TALLY_CONTROL_TABLE"} <= required
    assert "TALLY_S3_ENDPOINT_URL" in optional and "AWS_REGION" in optional
    compaction_required, _ = env_reads(closure(REPO / "functions/compaction/app.py"))
    assert "TALLY_WAREHOUSE_URI" in compaction_required
    assert "TALLY_CONTROL_TABLE" not in compaction_required


# -- warehouse layout, Glue and Athena ------------------------------------------------------------

GLUE_TYPES = {
    pa.string(): "string",
    pa.int64(): "bigint",
    pa.int16(): "smallint",
    pa.float64(): "double",
    pa.bool_(): "boolean",
    pa.timestamp("us", tz="UTC"): "timestamp",
    pa.decimal128(38, 18): "decimal(38,18)",
    pa.date32(): "date",
}


def glue_tables() -> dict[str, dict[str, Any]]:
    tables = of_type(source()["Resources"], "AWS::Glue::Table")
    return {t["Properties"]["TableInput"]["Name"]: t["Properties"]["TableInput"] for t in tables.values()}


def fill(template: Any, **values: str) -> str:
    """An Fn::Sub location template with the bucket and Athena's placeholders filled in."""
    text = sub_text(template).replace("${WarehouseBucket}", "BUCKET")
    for key, value in values.items():
        text = text.replace(f"${{!{key}}}", value)
    assert "${" not in text, text
    return text


def test_glue_block_is_generated_from_the_ddl() -> None:
    glue = load_infra("glue_tables")
    assert glue.render() in source_text()


def test_record_tables_have_the_writers_columns_and_key_layout() -> None:
    tables = glue_tables()
    uri = "s3://BUCKET/warehouse"
    for kind in KINDS:
        table = tables[kind]
        columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
        assert columns == [(f.name, GLUE_TYPES[f.type]) for f in stored_schema(kind)], kind
        assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
        span = MODELS[kind].partition_span
        written = partition_key(kind, DAY, "batch.parquet", span)
        where = fill(table["Parameters"]["storage.location.template"], dt=partition_value(DAY, span))
        assert f"{uri}/{written}".startswith(where.rstrip("/") + "/")
        assert f"{uri}/{written}".rsplit("/", 1)[0] == where.rstrip("/")
        assert table["Parameters"]["projection.dt.format"] == {"day": "yyyy-MM-dd", "month": "yyyy-MM"}[span]
    quarantine = tables["quarantine"]
    assert set(KINDS) <= set(quarantine["Parameters"]["projection.record_kind.values"].split(","))
    for kind in KINDS:
        written = partition_key(f"quarantine/{kind}", DAY, "batch.ndjson")
        where = fill(
            quarantine["Parameters"]["storage.location.template"], record_kind=kind, dt=DAY.isoformat()
        )
        assert f"{uri}/{written}".rsplit("/", 1)[0] == where.rstrip("/")


def test_billing_table_has_the_billing_schema() -> None:
    billing = glue_tables()["billing"]
    partitions = [p["Name"] for p in billing["PartitionKeys"]]
    assert partitions == ["provider", "billing_period"]
    columns = [(c["Name"], c["Type"]) for c in billing["StorageDescriptor"]["Columns"]]
    assert columns == [(f.name, GLUE_TYPES[f.type]) for f in BILLING_SCHEMA if f.name not in partitions]
    where = fill(billing["Parameters"]["storage.location.template"], provider="aws", billing_period="2026-03")
    assert where.rstrip("/") == "s3://BUCKET/warehouse/" + partition_folder("aws", "2026-03").rstrip("/")


def test_reconciliation_table_has_the_verifiers_columns_and_key_layout() -> None:
    from tally.reconcile import RECONCILIATION_SCHEMA

    table = glue_tables()["reconciliation"]
    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    assert columns == [(f.name, GLUE_TYPES[f.type]) for f in RECONCILIATION_SCHEMA]
    written = partition_key("reconciliation", DAY, "run.parquet")
    where = fill(table["Parameters"]["storage.location.template"], dt=DAY.isoformat())
    assert f"s3://BUCKET/warehouse/{written}".rsplit("/", 1)[0] == where.rstrip("/")


def test_one_warehouse_root_for_functions_glue_and_lifecycle(functions: Resources) -> None:
    root = "s3://${WarehouseBucket}/warehouse"
    for name in (
        "IngestFunction",
        "SiteIngestFunction",
        "CompactionFunction",
        "BillingImporterFunction",
        "InvoiceVerifierFunction",
        "LogsImporterFunction",
    ):
        assert (
            sub_text(functions[name]["Properties"]["Environment"]["Variables"]["TALLY_WAREHOUSE_URI"]) == root
        )
    for name, table in glue_tables().items():
        assert sub_text(table["StorageDescriptor"]["Location"]).startswith(root + "/"), name
    rules = source()["Resources"]["WarehouseBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    [quarantine] = [r for r in rules if "ExpirationInDays" in r]
    assert (
        quarantine["Prefix"] == "warehouse/" + partition_key("quarantine/jobs", DAY, "x").split("/")[0] + "/"
    )


def test_buckets_are_encrypted_versioned_private_and_expire_what_they_should(cfn: Resources) -> None:
    buckets = of_type(cfn, "AWS::S3::Bucket")
    assert set(buckets) == set(DATA_BUCKETS)
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
        assert len(props["PublicAccessBlockConfiguration"]) == 4
        assert bucket["DeletionPolicy"] == "Retain", name
        assert any("NoncurrentVersionExpiration" in r for r in props["LifecycleConfiguration"]["Rules"]), name
    results_rules = buckets["AthenaResultsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert any(
        r.get("ExpirationInDays") == {"Ref": "AthenaResultsRetentionDays"} and "Prefix" not in r
        for r in results_rules
    )


def test_athena_workgroup_enforces_result_location_and_scan_limit(cfn: Resources) -> None:
    [workgroup] = of_type(cfn, "AWS::Athena::WorkGroup").values()
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == {"Ref": "AthenaBytesScannedCutoffPerQuery"}
    assert sub_text(config["ResultConfiguration"]["OutputLocation"]).startswith(
        "s3://${AthenaResultsBucket}/"
    )


@pytest.mark.aws
def test_control_table_matches_what_the_store_creates(cfn: Resources, moto_endpoint: str) -> None:
    import boto3

    from tally.adapters.control_dynamodb import create_table

    create_table("shape-check", "eu-west-1", moto_endpoint)
    described = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="eu-west-1").describe_table(
        TableName="shape-check"
    )["Table"]
    props = cfn["ControlTable"]["Properties"]
    assert props["KeySchema"] == described["KeySchema"]
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(
        described["AttributeDefinitions"], key=str
    )
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    store = (REPO / "layers/core/tally/adapters/control_dynamodb.py").read_text()
    ttl = props["TimeToLiveSpecification"]
    assert ttl["Enabled"] is True and f'"{ttl["AttributeName"]}"' in store
    # Batch outcomes and expiring documents (sign-in replay markers) carry that attribute.
    from tally.adapters.control_dynamodb import TTL_ATTRIBUTE

    assert ttl["AttributeName"] == TTL_ATTRIBUTE


# -- API ------------------------------------------------------------------------------------------


def test_api_has_throttling_access_logs_and_an_optional_mtls_domain() -> None:
    cfn = transformed(
        {
            "DomainName": "tally.example.org",
            "CertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
            "TruststoreUri": "s3://trust/bundle.pem",
        }
    )["Resources"]
    [stage] = of_type(cfn, "AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["DefaultRouteSettings"]
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    assert settings["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    log = stage["Properties"]["AccessLogSettings"]
    assert ref_target(log["DestinationArn"]) == "ApiAccessLogGroup"
    assert "$context.requestId" in log["Format"]
    domain = cfn["ApiDomainName"]
    assert domain["Condition"] == "HasDomain"
    mtls = domain["Properties"]["MutualTlsAuthentication"]["Fn::If"]
    assert mtls[0] == "HasTruststore" and mtls[1]["TruststoreUri"] == {"Ref": "TruststoreUri"}
    assert cfn["ApiMapping"]["Properties"]["ApiId"] == {"Ref": "HttpApi"}
    endpoint = cfn["HttpApi"]["Properties"]["Body"]["servers"][0][
        "x-amazon-apigateway-endpoint-configuration"
    ]
    assert endpoint["disableExecuteApiEndpoint"] == {"Fn::If": ["HasTruststore", True, False]}


def test_outputs_give_an_operator_what_the_deploy_guide_uses() -> None:
    outputs = source()["Outputs"]
    assert {"ApiUrl", "WarehouseUri", "ControlTableName", "GlueDatabaseName", "AthenaWorkGroupName"} <= set(
        outputs
    )
    guide = (REPO / "infra/DEPLOY.md").read_text()
    for name in ("ApiUrl", "WarehouseUri", "ControlTableName"):
        assert name in guide


def test_every_table_a_view_reads_is_in_the_glue_catalog() -> None:
    """Athena refuses CREATE VIEW over a missing table: the deploy would fail in the custom resource."""
    from tally.query.sql_files import list_files, referenced_tables, view_body

    views = {f.name for f in list_files("views")}
    catalog = set(glue_tables())
    for item in list_files("views"):
        missing = referenced_tables(view_body(item)) - views - catalog
        assert not missing, f"view {item.name} reads {sorted(missing)}, which the template does not define"


def test_views_are_deployed_after_every_glue_table() -> None:
    resources = source()["Resources"]
    tables = {name for name, r in resources.items() if r["Type"] == "AWS::Glue::Table"}
    assert set(resources["AthenaViews"]["DependsOn"]) == tables


# -- people: single sign-on -------------------------------------------------------------------------

PEOPLE_ROUTES = ("/v1/people", "/v1/people/{proxy+}", "/v1/me")
COGNITO_ISSUER = "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${PeopleUserPool}"


def test_people_routes_are_fronted_by_the_people_authoriser(cfn: Resources, functions: Resources) -> None:
    body = cfn["HttpApi"]["Properties"]["Body"]
    scheme = body["components"]["securitySchemes"]["PeopleAuthorizer"]["x-amazon-apigateway-authorizer"]
    assert scheme["type"] == "request"
    assert scheme["authorizerPayloadFormatVersion"] == "2.0" and scheme["enableSimpleResponses"] is True
    [arn] = scheme["authorizerUri"]["Fn::Sub"][1].values()
    assert ref_target(arn) == "PeopleAuthoriserFunction"
    # Not cached, and so no identity source: API Gateway would refuse, unasked, a request lacking
    # any one of them, and a script sends only Authorization, a browser only its cookie.
    assert scheme["authorizerResultTtlInSeconds"] == 0 and not scheme.get("identitySource")
    paths = {p: m for p, m in body["paths"].items() if p not in SITE_INGEST_PATHS}
    assert set(PEOPLE_ROUTES) | {"/v1/{proxy+}"} == set(paths)
    for path, methods in paths.items():
        [operation] = methods.values()
        integration = sub_text(operation["x-amazon-apigateway-integration"]["uri"])
        assert "${IngestFunction.Arn}" in integration
        # Agents' routes stay open to the function (it checks their site keys); people's are not.
        expected: list[dict[str, list[str]]] | None = (
            [{"PeopleAuthorizer": []}] if path in PEOPLE_ROUTES else None
        )
        assert operation.get("security") == expected, path
    permissions = of_type(cfn, "AWS::Lambda::Permission")
    assert {
        "IngestFunctionPeoplePermission",
        "IngestFunctionPeopleItemsPermission",
        "IngestFunctionMePermission",
    } <= set(permissions)
    # API Gateway may invoke the authoriser as this API's authoriser, and only so.
    invoking = {
        name: p["Properties"]
        for name, p in permissions.items()
        if ref_target(p["Properties"]["FunctionName"]) == "PeopleAuthoriserFunction"
    }
    assert list(invoking) == ["PeopleAuthoriserPermission"]
    permission = invoking["PeopleAuthoriserPermission"]
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert permission["Action"] == "lambda:InvokeFunction"
    assert sub_text(permission["SourceArn"]).endswith(":${HttpApi}/authorizers/*")
    # It verifies the provider's tokens as the API does: the same provider, the same settings.
    env = functions["PeopleAuthoriserFunction"]["Properties"]["Environment"]["Variables"]
    api_env = functions["IngestFunction"]["Properties"]["Environment"]["Variables"]
    assert env["TALLY_OIDC"] == api_env["TALLY_OIDC"]
    assert {k: env[k] for k in ("TALLY_MODE", "TALLY_CONTROL_TABLE")} == {
        k: api_env[k] for k in ("TALLY_MODE", "TALLY_CONTROL_TABLE")
    }
    # It never provisions people (that would need writes the role does not grant).
    assert not any(name.startswith("TALLY_SSO") for name in env)


def test_the_people_authoriser_role_reads_only_the_peoples_items(cfn: Resources) -> None:
    """What the authoriser's code calls on the table (a document read, a collection query, an
    expired session dropped) and nothing else, each held to the people's partition keys."""
    store = REPO / "layers/core/tally/adapters/control_dynamodb.py"
    tree = ast.parse(store.read_text())
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in (
            "get_doc",
            "list_docs",
            "delete_doc",
            "_get",
            "_query",
        ):
            used |= {
                n.func.attr
                for n in ast.walk(node)
                if isinstance(n, ast.Call)
                and isinstance(n.func, ast.Attribute)
                and ast.unparse(n.func.value) == "self._db"
            }
    assert used == {"get_item", "query", "update_item"}
    assert granted(cfn, "PeopleAuthoriserRole", "dynamodb") == {api_action("dynamodb", m) for m in used}
    assert not granted(cfn, "PeopleAuthoriserRole", "s3")
    statements = [
        s
        for p in cfn["PeopleAuthoriserRole"]["Properties"]["Policies"]
        for s in as_list(p["PolicyDocument"]["Statement"])
        if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))
    ]
    conditions = {a: s["Condition"] for s in statements for a in as_list(s["Action"])}
    people = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["PEOPLE#*"]}}
    sessions = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["PEOPLE#sessions"]}}
    assert conditions == {
        "dynamodb:GetItem": people,
        "dynamodb:Query": people,
        "dynamodb:UpdateItem": sessions,
    }
    assert all(ref_target(s["Resource"]) == "ControlTable" for s in statements)


#: The sign-in routes a browser reaches before it holds any token (the callback above all), and
#: the sign-out (a session cookie, no bearer): none may sit behind the people authoriser.
SIGN_IN_PATHS = ("/v1/auth/config", "/v1/auth/oidc/login", "/v1/auth/oidc/callback", "/v1/auth/oidc/logout")


def api_gateway_route(paths: list[str], path: str) -> str:
    """The route an HTTP API picks for a request path: the exact one, else the greedy route with
    the longest matching prefix (API Gateway's route selection, for the paths this API uses)."""
    if path in paths:
        return path
    greedy = [p for p in paths if p.endswith("/{proxy+}") and path.startswith(p[: -len("{proxy+}")])]
    assert greedy, f"no route of the API matches {path}"
    return max(greedy, key=len)


SITE_INGEST_PATHS = {path for _method, path in INGEST_ROUTES}


def _route_matches(template: str, path: str) -> bool:
    """Whether an HTTP API route path matches a request path ({x}: one segment, {proxy+}: the rest)."""
    want, got = template.strip("/").split("/"), path.strip("/").split("/")
    if want[-1] == "{proxy+}":
        return len(got) >= len(want) and all(w == g for w, g in zip(want[:-1], got, strict=False))
    return len(want) == len(got) and all(w == g or w.startswith("{") for w, g in zip(want, got, strict=True))


def api_gateway_function(body: dict[str, Any], method: str, path: str) -> str:
    """The function an HTTP API hands a request to: of the routes matching method (or ANY) and path,
    a route without a greedy segment beats one with; then more literal segments; then the exact
    method over ANY (API Gateway's route selection, for the kinds of routes this API has)."""
    candidates = []
    for template, operations in body["paths"].items():
        for verb, operation in operations.items():
            verb = verb.upper()
            if verb not in (method, "X-AMAZON-APIGATEWAY-ANY-METHOD") or not _route_matches(template, path):
                continue
            segments = template.strip("/").split("/")
            literal = sum(not s.startswith("{") for s in segments)
            rank = ("{proxy+}" not in template, literal, verb == method)
            integration = sub_text(operation["x-amazon-apigateway-integration"]["uri"])
            [function] = re.findall(r"functions/\$\{(\w+)\.Arn\}/invocations", integration)
            candidates.append((rank, function))
    assert candidates, f"no route of the API matches {method} {path}"
    return str(max(candidates)[1])


def test_the_sites_ingest_routes_go_to_the_ingest_function_and_nothing_else(cfn: Resources) -> None:
    from fastapi import routing

    from tally.api.ingest_app import create_ingest_app
    from tests.support.deployments import local_settings
    from tests.support.routes import app_routes

    body = cfn["HttpApi"]["Properties"]["Body"]
    for method, path in INGEST_ROUTES:
        operation = body["paths"][path][method.lower()]
        assert operation.get("security") is None  # the function checks the site key
        assert "${SiteIngestFunction.Arn}" in sub_text(operation["x-amazon-apigateway-integration"]["uri"])
    # The ingest app serves exactly its routes (and health) ...
    app = create_ingest_app(local_settings(Path("/nonexistent-tally-home")))
    served = {
        (m, r.path) for r in routing.iter_route_contexts(app.routes) for m in r.methods or () if m != "HEAD"
    }
    assert set(INGEST_ROUTES) <= served
    # ... and for every route of the whole API, a concrete request lands where it should: the
    # ingest routes at the ingest function, everything else (GET /v1/records/jobs, a person's
    # listing, included) at the API function.
    full = app_routes()
    assert set(INGEST_ROUTES) <= full
    for method, path in full:
        concrete = re.sub(r"\{[^}]+\}", "x1", path)
        expected = "SiteIngestFunction" if (method, path) in INGEST_ROUTES else "IngestFunction"
        if path.startswith("/v1/records/{kind}") and (method, "/v1/records/custom/{name}") in INGEST_ROUTES:
            concrete = concrete.replace("/v1/records/x1", "/v1/records/jobs", 1)
        assert api_gateway_function(body, method, concrete) == expected, (method, path)
    assert api_gateway_function(body, "POST", "/v1/records/custom/lab_meter") == "SiteIngestFunction"
    assert api_gateway_function(body, "GET", "/v1/records/jobs") == "IngestFunction"
    assert api_gateway_function(body, "POST", "/v1/billing") == "IngestFunction"


def test_the_sign_in_routes_reach_the_function_without_the_authoriser(cfn: Resources) -> None:
    from tests.support.routes import app_routes

    paths = cfn["HttpApi"]["Properties"]["Body"]["paths"]
    served = {path for _method, path in app_routes()}
    assert set(SIGN_IN_PATHS) <= served  # the app serves them ...
    for path in SIGN_IN_PATHS:
        route = api_gateway_route(list(paths), path)
        [operation] = paths[route].values()
        # ... and API Gateway hands them to the API function with no authoriser in front.
        assert route == "/v1/{proxy+}" and operation.get("security") is None, (path, route)
        assert "${IngestFunction.Arn}" in sub_text(operation["x-amazon-apigateway-integration"]["uri"])
    # The people's routes keep theirs (a sign-in path is no people route).
    assert api_gateway_route(list(paths), "/v1/people/p-1/grants") == "/v1/people/{proxy+}"
    assert api_gateway_route(list(paths), "/v1/me") == "/v1/me"
    # The callback registered at the user pool is the app's callback route.
    callback = source()["Parameters"]["SsoCallbackUrls"]["Default"].split(",")[0]
    assert urlsplit(callback).path == "/v1/auth/oidc/callback"


def test_the_portal_client_is_a_public_code_flow_client_of_a_closed_user_pool(cfn: Resources) -> None:
    pool = cfn["PeopleUserPool"]
    assert pool["DeletionPolicy"] == "Retain" and pool["Properties"]["DeletionProtection"] == "ACTIVE"
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    client = cfn["PortalClient"]["Properties"]
    assert ref_target(client["UserPoolId"]) == "PeopleUserPool"
    assert client["GenerateSecret"] is False and client["AllowedOAuthFlows"] == ["code"]
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert set(client["AllowedOAuthScopes"]) == {"openid", "email", "profile"}
    assert client["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]  # hosted sign-in only
    assert client["CallbackURLs"] == {"Ref": "SsoCallbackUrls"} and client["LogoutURLs"] == {
        "Ref": "SsoLogoutUrls"
    }
    assert client["SupportedIdentityProviders"] == [
        "COGNITO",
        {"Fn::If": ["HasSamlProvider", {"Ref": "SamlIdentityProvider"}, {"Ref": "AWS::NoValue"}]},
        {"Fn::If": ["HasOidcProvider", {"Ref": "OidcIdentityProvider"}, {"Ref": "AWS::NoValue"}]},
    ]
    domain = cfn["PeopleUserPoolDomain"]["Properties"]
    assert ref_target(domain["UserPoolId"]) == "PeopleUserPool"
    assert domain["Domain"]["Fn::If"][0] == "HasSsoDomainPrefix"
    # The default prefix: "tally-" and the stack id's UUID (unique in the region, valid characters).
    assert domain["Domain"]["Fn::If"][2] == {
        "Fn::Join": ["-", ["tally", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]]
    }
    prefix = re.compile(source()["Parameters"]["SsoDomainPrefix"]["AllowedPattern"])
    assert prefix.fullmatch("tally-" + "3f2504e0-4f89-11d3-9a0c-0305e82c3301") and prefix.fullmatch("")
    assert not prefix.fullmatch("Tally_Prod") and not prefix.fullmatch("-tally")


def test_identity_providers_are_created_only_when_given() -> None:
    template = source()
    conditions, parameters = template["Conditions"], template["Parameters"]
    for resource, condition, parameter, kind in (
        ("SamlIdentityProvider", "HasSamlProvider", "SamlMetadataUrl", "SAML"),
        ("OidcIdentityProvider", "HasOidcProvider", "OidcProviderIssuer", "OIDC"),
    ):
        provider = template["Resources"][resource]
        assert provider["Condition"] == condition and provider["Properties"]["ProviderType"] == kind
        assert conditions[condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]}
        assert parameters[parameter]["Default"] == ""
    saml = template["Resources"]["SamlIdentityProvider"]["Properties"]
    assert saml["ProviderDetails"]["MetadataURL"] == {"Ref": "SamlMetadataUrl"}
    assert saml["AttributeMapping"]["email"] == "urn:oid:0.9.2342.19200300.100.1.3"  # eduPerson mail
    oidc = template["Resources"]["OidcIdentityProvider"]["Properties"]["ProviderDetails"]
    assert (
        oidc["oidc_issuer"] == {"Ref": "OidcProviderIssuer"} and "openid" in oidc["authorize_scopes"].split()
    )
    assert parameters["OidcProviderClientSecret"]["NoEcho"] is True
    rule = template["Rules"]["OidcProviderNeedsClient"]
    assert rule["RuleCondition"] == conditions["HasOidcProvider"]
    # Given, both transform and lint; the names are within Cognito's 32 characters.
    given = {
        "SamlMetadataUrl": "https://idp.example.org/metadata.xml",
        "OidcProviderIssuer": "https://aai.egi.eu/auth/realms/egi",
        "OidcProviderClientId": "cognito",
        "OidcProviderClientSecret": "secret",
    }
    resources = transformed(given)["Resources"]
    assert {"SamlIdentityProvider", "OidcIdentityProvider"} <= set(resources)
    name = re.compile(parameters["SamlProviderName"]["AllowedPattern"])
    assert name.fullmatch("EGI-Check-in") and not name.fullmatch("x" * 33) and not name.fullmatch("a b")


def test_the_api_function_gets_the_user_pool_as_its_single_sign_on_settings(functions: Resources) -> None:
    from tally.auth.oidc import OidcConfig
    from tally.settings import Settings

    variable = functions["IngestFunction"]["Properties"]["Environment"]["Variables"]["TALLY_OIDC"]
    text, values = variable["Fn::Sub"]
    assert values == {"Callback": {"Fn::Select": [0, {"Ref": "SsoCallbackUrls"}]}}
    filled = (
        text.replace("${AWS::Region}", "eu-west-1")
        .replace("${AWS::URLSuffix}", "amazonaws.com")
        .replace("${PeopleUserPool}", "eu-west-1_AbCdEf123")
        .replace("${PortalClient}", "1example23456789")
        .replace("${Callback}", "https://tally.example.org/v1/auth/oidc/callback")
    )
    config = OidcConfig.model_validate(json.loads(filled))
    assert config.issuer == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
    # Cognito's access tokens name the client in client_id: the default audience is that client.
    assert config.client_id == config.expected_audience == "1example23456789"
    assert Settings.model_fields["oidc"].annotation == OidcConfig | None
    # The function, the authoriser and the output speak of one issuer.
    assert text.startswith('{"issuer": "' + COGNITO_ISSUER + '"')
    assert sub_text(source()["Outputs"]["SsoIssuer"]["Value"]) == COGNITO_ISSUER
    callbacks = source()["Parameters"]["SsoCallbackUrls"]
    assert callbacks["Type"] == "CommaDelimitedList" and callbacks["Default"].startswith("http://localhost")


def test_single_sign_on_outputs_are_in_the_deploy_guide() -> None:
    outputs = source()["Outputs"]
    guide = (REPO / "infra/DEPLOY.md").read_text()
    for name in ("PeopleUserPoolId", "SsoIssuer", "PortalClientId", "SsoSignInUrl"):
        assert name in outputs and name in guide
    for parameter in ("SsoCallbackUrls", "SamlMetadataUrl", "OidcProviderIssuer"):
        assert parameter in guide


# -- the portal: CloudFront over a private bucket, the API on /v1/* of the same distribution -----

CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def test_the_portal_bucket_is_read_only_by_its_distribution_through_origin_access_control(
    cfn: Resources,
) -> None:
    [oac] = of_type(cfn, "AWS::CloudFront::OriginAccessControl").values()
    config = oac["Properties"]["OriginAccessControlConfig"]
    assert (
        config["OriginAccessControlOriginType"],
        config["SigningBehavior"],
        config["SigningProtocol"],
    ) == (
        "s3",
        "always",
        "sigv4",
    )
    [(name, distribution)] = of_type(cfn, "AWS::CloudFront::Distribution").items()
    origins = {o["Id"]: o for o in distribution["Properties"]["DistributionConfig"]["Origins"]}
    assets = origins["portal-assets"]
    assert ref_target(assets["DomainName"]) == "PortalBucket"
    assert ref_target(assets["OriginAccessControlId"]) == "PortalOriginAccessControl"
    assert assets["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy origin access identity
    [policy] = [
        p
        for p in of_type(cfn, "AWS::S3::BucketPolicy").values()
        if ref_target(p["Properties"]["Bucket"]) == "PortalBucket"
    ]
    allows = [
        s for s in as_list(policy["Properties"]["PolicyDocument"]["Statement"]) if s["Effect"] == "Allow"
    ]
    assert len(allows) == 1
    [allow] = allows
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert as_list(allow["Action"]) == ["s3:GetObject"]
    assert sub_text(allow["Resource"]) == "${PortalBucket.Arn}/*"
    source_arn = sub_text(allow["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert source_arn == f"arn:${{AWS::Partition}}:cloudfront::${{AWS::AccountId}}:distribution/${{{name}}}"


def test_the_api_is_the_same_distributions_v1_behaviour_and_never_cached(cfn: Resources) -> None:
    [distribution] = of_type(cfn, "AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    default = config["DefaultCacheBehavior"]
    assert (default["TargetOriginId"], default["CachePolicyId"]) == ("portal-assets", CACHING_OPTIMIZED)
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    [api] = config["CacheBehaviors"]
    assert (api["PathPattern"], api["TargetOriginId"]) == ("/v1/*", "tally-api")
    assert api["CachePolicyId"] == CACHING_DISABLED
    assert api["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
    assert api["ViewerProtocolPolicy"] == "https-only"
    assert set(api["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    # No error page rewriting: it is distribution-wide, so it would turn the API's problem+json
    # 403s and 404s into the portal's index page.
    assert "CustomErrorResponses" not in config
    origin = next(o for o in config["Origins"] if o["Id"] == "tally-api")
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    condition, with_domain, without = origin["DomainName"]["Fn::If"]
    assert (condition, ref_target(with_domain)) == ("HasDomain", "DomainName")
    assert sub_text(without) == "${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    outputs = source()["Outputs"]
    assert sub_text(outputs["PortalUrl"]["Value"]) == "https://${PortalDistribution.DomainName}"
    assert ref_target(outputs["PortalBucketName"]["Value"]) == "PortalBucket"
