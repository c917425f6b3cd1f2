"""`tally serve` over HTTPS and the agent posting to it, as the README shows: real server processes
on loopback, the real agent process, the self-signed CA reused across restarts, a certificate of
one's own, and a busy port answered with one line."""

from __future__ import annotations

import os
import re
import socket
import ssl
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from tally.query.open_engine import open_engine
from tally.serving.certificates import ensure_self_signed, server_hosts
from tests.agent.certs import make_certificates
from tests.support.deployments import local_settings
from tests.support.serve_process import TALLY, TallyServe, free_port, site_with_key

REPO = Path(__file__).resolve().parents[2]
AGENT_ENV = {**os.environ, "PYTHONPATH": str(REPO / "agents")}
HEADER = "JobID|JobName|User|Account|Start|End|Elapsed|TotalCPU|NCPUS|NNodes|State"


def dump(path: Path, jobs: int) -> Path:
    lines = [HEADER]
    for n in range(1, jobs + 1):
        lines.append(
            f"{n}|job{n}|alice|proj|2026-03-01T10:00:00|2026-03-01T11:00:00|01:00:00|00:50:00|1|1|COMPLETED"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def agent(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tally_agent", *args],
        env=AGENT_ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )


def job_ids(home: Path) -> list[str]:
    """The deduplicated jobs, through the same DuckDB engine `tally query` uses."""
    table = open_engine(local_settings(home)).query("SELECT local_job_id FROM jobs_dedup ORDER BY 1").table
    return [str(v) for v in table.column("local_job_id").to_pylist()]


@pytest.mark.slow
def test_agent_posts_to_the_self_signed_server_end_to_end(tmp_path: Path) -> None:
    home = tmp_path / "home"
    key_file = tmp_path / "key"
    key_file.write_text(site_with_key(home, "TEST-SITE", "cluster1") + "\n")
    port = free_port()
    server = TallyServe(home, port, "--self-signed")
    try:
        banner = server.start()
        url, ca = server.agent_options()
        assert url == f"https://127.0.0.1:{port}" and Path(ca) == (home / "tls" / "ca.pem").resolve()
        assert f"Tally on https://127.0.0.1:{port}/v1/docs" in banner and "made a local CA" in banner
        identity = ["--site", "TEST-SITE", "--resource", "cluster1", "--api-key-file", str(key_file)]
        # Exactly the README's line: the server and CA bundle printed by `tally serve --self-signed`.
        sent = agent(
            "import", "slurm", "--server", url, "--ca-bundle", ca, *identity,
            "--spool-dir", str(tmp_path / "spool"), str(dump(tmp_path / "a.txt", 3)),
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        assert " 3 accepted, 0 duplicates, 0 replayed" in sent.stdout and "plain HTTP" not in sent.stderr
        assert job_ids(home) == ["1", "2", "3"]
        # Without the CA bundle the agent does not trust the server: nothing is sent, all is spooled.
        untrusted = agent(
            "import", "slurm", "--server", url, *identity, "--spool-dir", str(tmp_path / "spool2"),
            "--attempts", "1", "--retry-base-seconds", "0", str(dump(tmp_path / "b.txt", 5)),
        )  # fmt: skip
        assert untrusted.returncode == 75 and "certificate verify failed" in untrusted.stderr
        assert "1 batches left in the spool" in untrusted.stdout
        ca_before = Path(ca).read_bytes()
        cert_before = (home / "tls" / "server.pem").read_bytes()
        server.stop()
        # A later start reuses the CA and the certificate: agents keep their bundle.
        second = server.start()[len(banner) :]
        assert "made a local CA" not in second and server.agent_options() == (url, ca)
        assert Path(ca).read_bytes() == ca_before
        assert (home / "tls" / "server.pem").read_bytes() == cert_before
        # The spooled batch now goes through with the bundle.
        later = agent(
            "import", "slurm", "--server", url, "--ca-bundle", ca, *identity,
            "--spool-dir", str(tmp_path / "spool2"), str(dump(tmp_path / "b.txt", 5)),
        )  # fmt: skip
        assert later.returncode == 0, later.stderr
        assert "0 batches left in the spool" in later.stdout
        assert job_ids(home) == ["1", "2", "3", "4", "5"]
    finally:
        server.stop()
    assert oct((home / "tls" / "server.key").stat().st_mode & 0o777) == "0o600"
    assert oct((home / "tls" / "ca.key").stat().st_mode & 0o777) == "0o600"


@pytest.mark.slow
def test_own_certificate_and_plain_http_on_loopback(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)
    home = tmp_path / "home"
    key = site_with_key(home, "TEST-SITE", "cluster1")
    port = free_port()
    server = TallyServe(home, port, "--tls-cert", str(certs["cert"]), "--tls-key", str(certs["key"]))
    try:
        banner = server.start()
        assert f"Tally on https://127.0.0.1:{port}/v1/docs" in banner and "agents:" not in banner
        context = ssl.create_default_context(cafile=str(certs["ca"]))
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.sendall(b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := tls.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200") and b'"status":"ok"' in answer
    finally:
        server.stop()
    # Plain HTTP: the agent accepts it for loopback only, and warns.
    plain = TallyServe(home, port)
    try:
        assert f"Tally on http://127.0.0.1:{port}/v1/docs" in plain.start()
        sent = agent(
            "import", "slurm", "--server", f"http://localhost:{port}", "--api-key", key,
            "--site", "TEST-SITE", "--resource", "cluster1", "--spool-dir", str(tmp_path / "spool"),
            str(dump(tmp_path / "a.txt", 2)),
        )  # fmt: skip
        assert sent.returncode == 0 and " 2 accepted" in sent.stdout
        assert "over plain HTTP (loopback only)" in sent.stderr
    finally:
        plain.stop()


def test_mismatched_tls_options_are_one_line(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)
    env = {**os.environ, "TALLY_HOME": str(tmp_path / "home")}
    port = str(free_port())
    cases = [
        (["--tls-cert", str(certs["cert"])], "HTTPS needs both --tls-cert and --tls-key"),
        (["--tls-cert", str(certs["cert"]), "--tls-key", str(certs["ca"])], "cannot use"),
        (["--self-signed", "--tls-key", str(certs["key"])], "--self-signed makes its own certificate"),
    ]
    for args, message in cases:
        done = subprocess.run(
            [TALLY, "serve", "--port", port, *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_a_busy_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [TALLY, "serve", "--port", str(port), "--demo"],
            env={**os.environ, "TALLY_HOME": str(tmp_path / "home")},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"tally serve: port {port} on 127.0.0.1 is in use; pass --port"
    ]
    assert done.stdout == ""
    assert not (tmp_path / "home" / "warehouse").exists()  # nothing loaded for a server that cannot run


def _names(path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in san.get_values_for_type(x509.IPAddress)} | set(
        san.get_values_for_type(x509.DNSName)
    )


def test_self_signed_files_are_reused_while_valid_and_renewed_after(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    first = ensure_self_signed(tmp_path, server_hosts("127.0.0.1"), now)
    assert first.created and _names(first.cert) == {"127.0.0.1", "::1", "localhost"}
    ca = first.ca.read_bytes()
    cert = first.cert.read_bytes()
    again = ensure_self_signed(tmp_path, server_hosts("0.0.0.0"), now + timedelta(days=30))
    assert not again.created and first.cert.read_bytes() == cert
    # Another host name is added to a new certificate from the same CA.
    named = ensure_self_signed(tmp_path, server_hosts("tally.lan"), now)
    assert named.created and _names(named.cert) == {"127.0.0.1", "::1", "localhost", "tally.lan"}
    assert named.ca.read_bytes() == ca
    # Close to the end of the server certificate's validity: a new one, same CA.
    renewed = ensure_self_signed(tmp_path, server_hosts("tally.lan"), now + timedelta(days=396, hours=12))
    assert renewed.created and renewed.ca.read_bytes() == ca
    # A CA past its end is made again, and so is the certificate it signs.
    reborn = ensure_self_signed(tmp_path, server_hosts(None), now + timedelta(days=3650))
    assert reborn.created and reborn.ca.read_bytes() != ca
    issued = x509.load_pem_x509_certificate(reborn.cert.read_bytes())
    issued.verify_directly_issued_by(x509.load_pem_x509_certificate(reborn.ca.read_bytes()))


def readme_blocks(heading: str) -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


@pytest.mark.slow
def test_readme_agent_section_runs_as_written(tmp_path: Path) -> None:
    """The README's demo server with --self-signed, then its agent block verbatim (only the port
    differs), from a folder laid out like a checkout: `.venv/` and the default home `var/`."""
    serve_block, agent_block = readme_blocks("### The agent feeding the demo server")
    assert serve_block.splitlines()[0] == ".venv/bin/tally serve --demo --self-signed"
    work = tmp_path / "checkout"
    work.mkdir()
    (work / ".venv").symlink_to(Path(sys.executable).parent.parent)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "TALLY_HOME"}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                ".venv/bin/tally",
                "serve",
                "--demo",
                "--self-signed",
                "--port",
                str(port),
                "--demo-jobs",
                "300",
            ],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while "Application startup complete" not in log.read_text(errors="replace"):
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        banner = log.read_text()
        ca = (work / "var" / "tls" / "ca.pem").resolve()
        assert f"agents: --server https://127.0.0.1:{port} --ca-bundle {ca}" in banner
        script = agent_block.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        done = subprocess.run(
            ["bash", "-e", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.startswith(
            "tally-agent import: sent 1 records in 1 batches: 1 accepted, 0 duplicates, 0 replayed"
        ), done.stdout
        row = [line for line in done.stdout.splitlines() if "NORTH-HPC" in line]
        assert len(row) == 1 and re.search(r"NORTH-HPC\s*│\s*hex\s*│\s*42\s*│\s*4\s*│\s*7,200", row[0]), row
    finally:
        server.terminate()
        server.wait(timeout=30)
