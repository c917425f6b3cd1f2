"""APEL out to the other destinations: ARGO AMS (a loopback HTTPS server speaking AMS's publish API,
driven by argo-ams-library), an S3 prefix in the SSM queue's layout (moto's server, read back with
`dirq` after a copy as a site's ssmsend host makes it), the scheduled Lambda, and `--ams` on the CLI.
Each destination must receive exactly the messages the local SSM queue gets for the same months."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import boto3
import pytest

from tally.interop.apel.ams import ams_token
from tally.interop.apel.outbox import PublishError
from tally.interop.apel.settings import AmsSettings
from tally.services.container import Services
from tests.agent.certs import make_certificates
from tests.apel.helpers import fresh, ingest_demo, queue_texts
from tests.support.ams_server import AmsStandIn, running_ams
from tests.support.cli import tally
from tests.support.deployments import local_settings
from tests.support.lambdas import REGION, LambdaContext, load_function

NOW = datetime(2026, 6, 15, tzinfo=UTC)
GRID, CLOUD = "LAKESIDE-GRID", "CLOUD-BURST"
MONTHS = ["2026-05", "2026-06"]
ELEMENT = re.compile(r"^[0-9a-f]{8}/[0-9a-f]{14}$")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Tally holding two months of demo jobs, VMs and storage for two sites."""
    folder = tmp_path_factory.mktemp("home")
    svc = fresh(folder, GRID, CLOUD, apel={"records_per_message": 50})
    ingest_demo(svc, (GRID, CLOUD), NOW, jobs=800, months=2)
    return folder


def _services(home: Path, **apel: object) -> Services:
    return Services(local_settings(home, apel={"records_per_message": 50, **apel}))


@pytest.fixture(scope="module")
def expected(home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Per site, the messages the local SSM queue receives for MONTHS."""
    out = {}
    for site in (GRID, CLOUD):
        folder = tmp_path_factory.mktemp(f"queue-{site}")
        _services(home).apel_publisher.publish(site, MONTHS, folder)
        out[site] = queue_texts(folder)
    assert len(out[GRID]) > 4 and len(out[CLOUD]) >= 1
    return out


@pytest.fixture
def ams(tmp_path: Path) -> Iterator[tuple[AmsStandIn, Path]]:
    certs = make_certificates(tmp_path)
    with running_ams(certs["cert"], certs["key"]) as stand_in:
        yield stand_in, certs["ca"]


def _ams_section(stand_in: AmsStandIn, ca: Path | None, **overrides: object) -> dict[str, object]:
    return {
        "host": stand_in.host,
        "project": stand_in.project,
        "topic": stand_in.topic,
        "token": stand_in.token,
        "ca_bundle": str(ca) if ca else None,
        "retries": 0,
        **overrides,
    }


def test_ams_receives_the_queue_s_messages_one_publish_each(
    home: Path, expected: dict[str, list[str]], ams: tuple[AmsStandIn, Path]
) -> None:
    stand_in, ca = ams
    publisher = _services(home, ams=_ams_section(stand_in, ca)).apel_publisher
    done = publisher.publish(GRID, MONTHS, publisher.ams())
    assert stand_in.received.texts == expected[GRID]
    assert stand_in.received.requests == len(expected[GRID])
    assert done.names == [str(n) for n in range(1, len(expected[GRID]) + 1)]  # AMS's message ids
    assert done.queue == f"ams://{stand_in.host}/EGI/accounting"
    # SSM's `empaid` attribute: a queue element name, distinct and in publishing order.
    empaids = [a["empaid"] for a in stand_in.received.attributes]
    assert all(re.fullmatch(r"[0-9a-f]{22}", e) for e in empaids)
    assert empaids == sorted(set(empaids))


def test_ams_refusals_are_publish_errors(home: Path, ams: tuple[AmsStandIn, Path]) -> None:
    stand_in, ca = ams
    wrong = _services(home, ams=_ams_section(stand_in, ca, token="not-the-token")).apel_publisher
    with pytest.raises(PublishError, match="AMS refused"):
        wrong.publish(GRID, MONTHS, wrong.ams())
    topic = _services(home, ams=_ams_section(stand_in, ca, topic="nowhere")).apel_publisher
    with pytest.raises(PublishError, match="AMS refused"):
        topic.publish(GRID, MONTHS, topic.ams())
    # The host's certificate is verified: without the test CA the TLS handshake fails.
    untrusted = _services(home, ams=_ams_section(stand_in, None)).apel_publisher
    with pytest.raises(PublishError, match="AMS refused"):
        untrusted.publish(GRID, MONTHS, untrusted.ams())
    assert stand_in.received.texts == []


@pytest.mark.aws
def test_the_ams_token_is_read_from_ssm_or_secrets_manager(moto_endpoint: str) -> None:
    ssm = boto3.client("ssm", endpoint_url=moto_endpoint, region_name=REGION)
    ssm.put_parameter(Name="/tally/test/ams-token", Value="from-ssm\n", Type="SecureString", Overwrite=True)
    secrets = boto3.client("secretsmanager", endpoint_url=moto_endpoint, region_name=REGION)
    arn = secrets.create_secret(
        Name=f"tally-ams-{NOW.timestamp():.0f}-{id(ssm)}", SecretString="from-secret"
    )["ARN"]
    base = {"host": "ams.invalid", "project": "EGI", "topic": "t", "aws_endpoint_url": moto_endpoint}
    assert ams_token(
        AmsSettings.model_validate({**base, "token_parameter": "/tally/test/ams-token"}), REGION
    ) == ("from-ssm")
    assert ams_token(AmsSettings.model_validate({**base, "token_parameter": arn}), REGION) == "from-secret"
    with pytest.raises(PublishError, match="/tally/test/missing"):
        ams_token(AmsSettings.model_validate({**base, "token_parameter": "/tally/test/missing"}), REGION)
    with pytest.raises(ValueError, match="exactly one of token and token_parameter"):
        AmsSettings.model_validate(base)


def _bucket(moto_endpoint: str, name: str) -> object:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION)
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return s3


def _move_down(s3: object, bucket: str, prefix: str, folder: Path) -> list[str]:
    """What `aws s3 mv --recursive s3://bucket/prefix/ folder/` does: every object to its relative
    path, then deleted from the bucket. The relative keys are returned."""
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):  # type: ignore[attr-defined]
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix) :]
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())  # type: ignore[attr-defined]
            s3.delete_object(Bucket=bucket, Key=item["Key"])  # type: ignore[attr-defined]
            keys.append(relative)
    return keys


@pytest.mark.aws
def test_the_scheduled_run_writes_each_site_s_queue_files_to_s3(
    home: Path, expected: dict[str, list[str]], moto_endpoint: str, tmp_path: Path
) -> None:
    bucket = f"tally-apel-{tmp_path.name[-20:].lower().replace('_', '-')}"
    s3 = _bucket(moto_endpoint, bucket)
    settings = local_settings(
        home,
        s3_endpoint_url=moto_endpoint,
        apel={
            "records_per_message": 50,
            "outgoing_uri": f"s3://{bucket}/apel/outgoing",
            "publish_sites": [GRID],
        },
    )
    done = Services(settings).apel_publisher.publish_scheduled(date(2026, 6, 15))
    assert [(d.site, d.months, d.queue) for d in done] == [
        (GRID, MONTHS, f"s3://{bucket}/apel/outgoing/{GRID}/")
    ]
    keys = _move_down(s3, bucket, f"apel/outgoing/{GRID}/", tmp_path / "outgoing")
    assert len(keys) == len(expected[GRID]) and all(ELEMENT.match(k) for k in keys)
    assert queue_texts(tmp_path / "outgoing") == expected[GRID]


@pytest.mark.aws
def test_the_lambda_publishes_every_site_for_its_scheduled_day(
    home: Path,
    expected: dict[str, list[str]],
    moto_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Local mode (DuckDB): moto's Athena records queries but runs none.
    bucket = f"tally-apel-fn-{tmp_path.name[-16:].lower().replace('_', '-')}"
    s3 = _bucket(moto_endpoint, bucket)
    monkeypatch.setenv("TALLY_HOME", str(home))
    monkeypatch.setenv("TALLY_S3_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv(
        "TALLY_APEL", json.dumps({"records_per_message": 50, "outgoing_uri": f"s3://{bucket}/q"})
    )
    module = load_function("apel_publisher")
    result = module.handler({"scheduled_time": "2026-06-01T04:00:00Z"}, LambdaContext("tally-apel-publisher"))
    assert result["day"] == "2026-06-01"
    assert [(p["site"], p["months"]) for p in result["published"]] == [(CLOUD, MONTHS), (GRID, MONTHS)]
    for site in (CLOUD, GRID):
        _move_down(s3, bucket, f"q/{site}/", tmp_path / site)
        assert queue_texts(tmp_path / site) == expected[site]


def test_cli_publishes_to_ams_when_asked(
    home: Path, expected: dict[str, list[str]], ams: tuple[AmsStandIn, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in, ca = ams
    monkeypatch.setenv("TALLY_APEL", json.dumps({"records_per_message": 50}))
    refused = tally(home, "apel", "publish", "--site", GRID, "--month", "2026-05", "--ams")
    assert refused.returncode == 1 and "no AMS configured" in refused.stderr
    monkeypatch.setenv(
        "TALLY_APEL", json.dumps({"records_per_message": 50, "ams": _ams_section(stand_in, ca)})
    )
    both = tally(home, "apel", "publish", "--site", GRID, "--ams", "--out", str(home / "q"))
    assert both.returncode == 1 and "give one" in both.stderr
    for month in MONTHS:
        run = tally(home, "apel", "publish", "--site", GRID, "--month", month, "--ams")
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["queue"] == f"ams://{stand_in.host}/EGI/accounting"
    assert stand_in.received.texts == expected[GRID]
