"""Instance identity from fake metadata services on loopback, one per provider, each answering
only the paths and headers the real service requires and refusing requests without them; and
the config drive, config-only identity, per-boot caching, the benchmark command and the cron line.
"""

from __future__ import annotations

import json
import shlex
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tally_agent.cli import main
from tally_agent.config import Config, ConfigError
from tally_agent.vm import benchmark, identity
from tests.agent.fake_metadata import AZURE_DOC, OPENSTACK_DOC, fake_metadata
from tests.agent.vm_proc import BOOT, cron_run, ticks, write_proc


def status_of(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(
        url, method=method, headers=headers or {}, data=b"" if method == "PUT" else None
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_fakes_refuse_what_the_real_services_refuse() -> None:
    """The fakes are strict, so a client that forgot a header or the token would fail below."""
    with fake_metadata("aws") as (url, _):
        assert status_of(f"{url}/latest/api/token", "PUT") == 400
        assert status_of(f"{url}/latest/dynamic/instance-identity/document") == 401
        bad = {"X-aws-ec2-metadata-token": "made-up"}
        assert status_of(f"{url}/latest/dynamic/instance-identity/document", headers=bad) == 401
    with fake_metadata("azure") as (url, _):
        assert status_of(f"{url}/metadata/instance?api-version=2021-02-01") == 400
        assert status_of(f"{url}/metadata/instance", headers={"Metadata": "true"}) == 400
        good = status_of(f"{url}/metadata/instance?api-version=2021-02-01", headers={"Metadata": "true"})
        assert good == 200
    with fake_metadata("gcp") as (url, _):
        assert status_of(f"{url}/computeMetadata/v1/?recursive=true") == 403
        headers = {"Metadata-Flavor": "Google", "X-Forwarded-For": "10.0.0.1"}
        assert status_of(f"{url}/computeMetadata/v1/?recursive=true", headers=headers) == 403


def test_aws_imdsv2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # a proxy must never be used
    with fake_metadata("aws") as (url, log):
        found, cached = identity.resolve({"provider": "aws", "aws_url": url}, {})
    assert found == {
        "provider": "aws",
        "account": "123456789012",
        "instance_id": "i-0123456789abcdef0",
        "region": "eu-west-1",
        "instance_type": "c6i.2xlarge",
        "image_id": "ami-0abcdef1234567890",
        "vm_name": "batch-worker-7",
    }
    assert cached == found
    method, path, headers = log[0]
    assert (method, path) == ("PUT", "/latest/api/token")
    assert int(headers["x-aws-ec2-metadata-token-ttl-seconds"]) > 0
    assert all(h.get("x-aws-ec2-metadata-token") for m, _, h in log[1:]) and len(log) == 3


def test_azure_imds() -> None:
    with fake_metadata("azure") as (url, log):
        found, _ = identity.resolve({"provider": "azure", "azure_url": url, "vo": "atlas"}, {})
    assert found["provider"] == "azure" and found["account"] == "0000-sub"
    assert found["instance_id"] == AZURE_DOC["compute"]["resourceId"]  # type: ignore[index]
    assert (found["region"], found["instance_type"], found["vm_name"]) == (
        "westeurope",
        "Standard_D4s_v5",
        "worker-3",
    )
    assert found["image_id"] == "canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest"
    assert found["vo"] == "atlas"  # from config, on top of the service's answer
    _, path, headers = log[0]
    assert path.startswith("/metadata/instance?") and "api-version=2021-02-01" in path
    assert headers["metadata"] == "true"


def test_gcp_metadata_server() -> None:
    with fake_metadata("gcp") as (url, log):
        found, _ = identity.resolve({"provider": "gcp", "gcp_url": url}, {})
    assert found == {
        "provider": "gcp",
        "account": "research-prod",
        "instance_id": "4567890123456789012",
        "region": "europe-west4",
        "instance_type": "n2-standard-8",
        "image_id": "debian-12-bookworm-v20260101",
        "vm_name": "gce-worker-1",
    }
    assert [h["metadata-flavor"] for _, _, h in log] == ["Google"]


def test_gcp_answer_without_flavor_header_is_not_trusted() -> None:
    with fake_metadata("openstack") as (url, _), pytest.raises(ConfigError, match="gcp metadata"):
        identity.resolve({"provider": "gcp", "gcp_url": url, "metadata_timeout": "2"}, {})


def test_openstack_http_and_config_drive(tmp_path: Path) -> None:
    options = {"provider": "openstack", "config_drive": str(tmp_path / "none")}
    with fake_metadata("openstack") as (url, log):
        found, _ = identity.resolve({**options, "openstack_url": url}, {})
    assert found == {
        "provider": "openstack",
        "account": "f7ac731cc11f40efbc03a9f9e1d1d21f",
        "instance_id": "d8e02d56-2648-49a3-bf97-6be8f1204f38",
        "region": "nova",
        "instance_type": "m1.xlarge",
        "vm_name": "os-worker-9",
    }
    assert [p for _, p, _ in log] == ["/openstack/latest/meta_data.json", "/latest/meta-data/instance-type"]
    drive = tmp_path / "config-2" / "openstack" / "latest"
    drive.mkdir(parents=True)
    (drive / "meta_data.json").write_text(json.dumps(OPENSTACK_DOC))
    dead = "http://127.0.0.1:9"  # nothing listens: the config drive must be enough
    found, _ = identity.resolve(
        {
            "provider": "openstack",
            "config_drive": str(tmp_path / "config-2"),
            "openstack_url": dead,
            "instance_type": "m1.small",
        },
        {},
    )
    assert found["instance_id"] == OPENSTACK_DOC["uuid"] and found["instance_type"] == "m1.small"


@pytest.mark.parametrize("provider", ["aws", "azure", "gcp", "openstack"])
def test_auto_detection_finds_each_provider(provider: str, tmp_path: Path) -> None:
    with fake_metadata(provider) as (url, _):
        options = {f"{p}_url": url for p in ("aws", "azure", "gcp", "openstack")}
        found, _ = identity.resolve(
            {**options, "config_drive": str(tmp_path / "none"), "metadata_timeout": "2"}, {}
        )
    assert found["provider"] == provider


def test_no_service_and_no_config_is_a_clear_error(tmp_path: Path) -> None:
    dead = "http://127.0.0.1:9"
    options = {f"{p}_url": dead for p in ("aws", "azure", "gcp", "openstack")}
    with pytest.raises(ConfigError, match="no metadata service answered"):
        identity.resolve({**options, "config_drive": str(tmp_path), "metadata_timeout": "1"}, {})
    with pytest.raises(ConfigError, match="account"):
        identity.resolve({"provider": "opennebula", "instance_id": "x"}, {})


def test_identity_is_asked_once_per_boot(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    with fake_metadata("aws") as (url, log):
        config = Config(
            site="S",
            resource="R",
            spool_dir=str(tmp_path / "spool"),
            state_dir=str(tmp_path / "spool"),
            options={"vm": {"provider": "aws", "aws_url": url, "proc": str(proc), "clock_ticks": "100"}},
        )
        for n in (1, 2, 3):
            write_proc(
                proc, ticks=ticks(user=1000 * n, idle=90_000 * n), btime=BOOT, uptime=900.0 * n, net={}
            )
            record = cron_run(config, BOOT + 900 * n)
            assert record is not None and record["instance_id"] == "i-0123456789abcdef0"
        assert sum(1 for m, _, _ in log if m == "PUT") == 1
        write_proc(
            proc,
            ticks=ticks(user=100, idle=9_000),
            btime=BOOT + 5000,
            uptime=90.0,
            net={},
            boot_id="another-boot",
        )
        assert cron_run(config, BOOT + 5090) is not None
        assert sum(1 for m, _, _ in log if m == "PUT") == 2  # a new boot asks again


def test_benchmark_configured_or_measured_once_per_boot(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    counter = tmp_path / "runs"
    script = tmp_path / "bench.py"
    script.write_text(
        "import pathlib, sys\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "p.write_text(str(int(p.read_text() or 0) + 1) if p.exists() else '1')\n"
        "print('HEPscore23 run finished; machine score:')\nprint('163.2')\n"
    )
    vm = {
        "provider": "opennebula",
        "account": "a",
        "instance_id": "i",
        "proc": str(proc),
        "clock_ticks": "100",
        "benchmark_command": f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}",
        "benchmark_scope": "machine",
    }
    config = Config(
        site="S",
        resource="R",
        spool_dir=str(tmp_path / "s"),
        state_dir=str(tmp_path / "s"),
        benchmark_type="HEPscore23",
        options={"vm": vm},
    )
    for n in (1, 2):
        write_proc(
            proc, ticks=ticks(user=1000 * n, idle=90_000 * n), btime=BOOT, uptime=900.0 * n, net={}, cpus=8
        )
        record = cron_run(config, BOOT + 900 * n)
        assert record is not None
        assert (record["benchmark_type"], record["benchmark_per_core"]) == ("HEPscore23", 20.4)
    assert counter.read_text() == "1"
    configured = Config(benchmark_type="HS06", benchmark_per_core=11.5)
    assert benchmark.resolve(configured, {}, {}, 4)[:2] == ("HS06", 11.5)
    failing = {"benchmark_command": f"{shlex.quote(sys.executable)} -c 'raise SystemExit(2)'"}
    kind, value, cache = benchmark.resolve(Config(benchmark_type="HS06"), failing, {}, 4)
    assert (kind, value) == (None, None) and "exited with 2" in cache["error"]
    assert benchmark.resolve(Config(benchmark_type="HS06"), failing, cache, 4)[:2] == (None, None)


def test_install_cron_line_for_vm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ini = tmp_path / "agent.ini"
    ini.write_text("[tally]\nsite = S\n")
    assert main(["install-cron", "--for", "vm", "--config", str(ini)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("*/15 * * * * ") and line.endswith("# tally-agent")
    words = shlex.split(line.split(" >/dev/null")[0])[5:]
    assert words[-3:] == ["vm", "--config", str(ini.resolve())]
