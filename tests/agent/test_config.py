"""Config files (INI and JSON), command-line overrides of every option, and the absence of any way
to turn TLS verification off."""

from __future__ import annotations

import dataclasses
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tally_agent import cli
from tally_agent.config import Config, ConfigError, load
from tally_agent.runner import Agent
from tally_agent.transport import Client, TransportError, tls_context
from tests.agent.certs import make_certificates

# A value for every option, none of them the default.
VALUES: dict[str, tuple[str, object]] = {
    "server": ("https://tally.example.org", "https://tally.example.org"),
    "api_key": ("secret", "secret"),
    "api_key_file": ("/etc/tally/key", "/etc/tally/key"),
    "site": ("EXAMPLE-SITE", "EXAMPLE-SITE"),
    "resource": ("cluster9", "cluster9"),
    "timezone": ("Europe/Berlin", "Europe/Berlin"),
    "batch_system": ("pbspro", "pbspro"),
    "benchmark_type": ("HS06", "HS06"),
    "benchmark_per_core": ("12.5", 12.5),
    "ca_bundle": ("/etc/pki/ca.pem", "/etc/pki/ca.pem"),
    "client_cert": ("/etc/tally/client.pem", "/etc/tally/client.pem"),
    "client_key": ("/etc/tally/client.key", "/etc/tally/client.key"),
    "spool_dir": ("/var/spool/x", "/var/spool/x"),
    "state_dir": ("/var/lib/x", "/var/lib/x"),
    "timeout": ("7.5", 7.5),
    "attempts": ("5", 5),
    "retry_delay": ("0.25", 0.25),
    "retry_base_seconds": ("60", 60.0),
    "retry_max_seconds": ("900", 900.0),
    "overlap_seconds": ("120", 120),
    "first_run_days": ("30", 30),
    "max_batch_records": ("100", 100),
    "max_batch_bytes": ("100000", 100000),
    "gpu": ("no", False),
    "identity_logs": ("/var/log/blah.log,/var/log/cream.log", ["/var/log/blah.log", "/var/log/cream.log"]),
    "storage_paths": ("/data, /scratch", ["/data", "/scratch"]),
}
OPTION_FIELDS = {f.name for f in dataclasses.fields(Config)} - {"options"}


def test_the_table_covers_every_option() -> None:
    assert set(VALUES) == OPTION_FIELDS
    defaults = Config()
    assert all(getattr(defaults, name) != value for name, (_, value) in VALUES.items())


def test_ini_file(tmp_path: Path) -> None:
    ini = tmp_path / "agent.ini"
    body = "".join(f"{name} = {text}\n" for name, (text, _) in VALUES.items())
    ini.write_text(f"[tally]\n{body}\n[slurm]\nsacct = /opt/slurm/bin/sacct\n[gpu]\njob_map = /var/tmp/map\n")
    config = load(str(ini), {})
    assert {name: getattr(config, name) for name in VALUES} == {n: v for n, (_, v) in VALUES.items()}
    assert config.options == {"slurm": {"sacct": "/opt/slurm/bin/sacct"}, "gpu": {"job_map": "/var/tmp/map"}}
    assert config.source_options("pbs") == {}


def test_json_file_and_the_state_dir_default(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    path.write_text(
        json.dumps(
            {
                "site": "S",
                "attempts": 2,
                "gpu": True,
                "storage_paths": ["/a"],
                "sources": {"pbs": {"file": "/x"}},
            }
        )
    )
    config = load(str(path), {"spool_dir": "/spool"})
    assert (config.site, config.attempts, config.gpu, config.storage_paths) == ("S", 2, True, ["/a"])
    assert config.options == {"pbs": {"file": "/x"}}
    assert config.state_dir == "/spool"  # the cursors live in the spool unless told otherwise


@pytest.mark.parametrize("name", sorted(OPTION_FIELDS))
def test_every_option_is_overridden_on_the_command_line(tmp_path: Path, name: str) -> None:
    ini = tmp_path / "agent.ini"
    ini.write_text(
        "[tally]\nsite = FROM-FILE\nresource = file\nattempts = 9\ngpu = yes\nbenchmark_type = HEPscore23\n"
    )
    flag = "--" + name.replace("_", "-")
    text, value = VALUES[name]
    args = cli._parser().parse_args(["run", "--config", str(ini), flag, text])
    config = cli._config(args)
    assert getattr(config, name) == value
    # The file's other values stay.
    if name != "site":
        assert config.site == "FROM-FILE"
    if name != "attempts":
        assert config.attempts == 9


def test_source_options_from_the_command_line_win(tmp_path: Path) -> None:
    ini = tmp_path / "agent.ini"
    ini.write_text("[tally]\n[slurm]\nsacct = /usr/bin/sacct\n[pbs]\nfile = /a\n")
    args = cli._parser().parse_args(["run", "-c", str(ini), "-o", "slurm.sacct=/opt/sacct", "-o", "gpu.x=1"])
    config = cli._config(args)
    assert config.options == {"slurm": {"sacct": "/opt/sacct"}, "pbs": {"file": "/a"}, "gpu": {"x": "1"}}
    with pytest.raises(ConfigError, match=r"SOURCE\.NAME=VALUE"):
        cli._config(cli._parser().parse_args(["run", "-c", str(ini), "-o", "sacct=/x"]))


def test_bad_values_and_files_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load(str(tmp_path / "missing.ini"), {})
    with pytest.raises(ConfigError, match="attempts"):
        load(None, {"attempts": "many"})
    with pytest.raises(ConfigError, match="benchmark_type"):
        load(None, {"benchmark_type": "SPECint"})
    with pytest.raises(ConfigError, match="https://"):
        load(None, {"server": "http://tally.example.org", "site": "s"}).require("server")


def test_no_option_turns_tls_verification_off(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    words = ("verify", "insecure", "ssl", "tls", "check", "unsafe", "trust")
    assert [name for name in OPTION_FIELDS if any(w in name for w in words)] == []
    flags = [a for action in cli._common()._actions for a in action.option_strings]
    assert [f for f in flags if any(w in f for w in words)] == []
    for flag in ("--insecure", "--no-verify", "--verify=no", "-k"):
        with pytest.raises(SystemExit) as exited:
            cli._parser().parse_args(["run", flag])
        assert exited.value.code == 2
    capsys.readouterr()
    # Such keys in a file are not options: they change nothing.
    ini = tmp_path / "agent.ini"
    ini.write_text("[tally]\nverify = no\ninsecure = yes\nssl_verify = false\ntls_verify = 0\n")
    config = load(str(ini), {})
    assert dataclasses.asdict(config) == dataclasses.asdict(load(None, {}))
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, Path]]]:
    certs = make_certificates(tmp_path)
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            return

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs["cert"], certs["key"])
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}", certs
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_untrusted_server_is_refused_whatever_the_file_says(
    tmp_path: Path, https_server: tuple[str, dict[str, Path]]
) -> None:
    url, certs = https_server
    ini = tmp_path / "agent.ini"
    ini.write_text(
        f"[tally]\nserver = {url}\napi_key = k\nverify = no\ninsecure = yes\nspool_dir = {tmp_path}\n"
    )
    agent = Agent(load(str(ini), {}))
    with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
        agent.client().sync_state("cluster1", "jobs")
    # With the test CA configured the same server is trusted.
    trusted = Client(url, "k", tls_context(str(certs["ca"])), 10)
    assert trusted.sync_state("cluster1", "jobs") == {}
