"""APEL out, signed: with `apel.signing` every published message is S/MIME clear-signed as SSM's
sender signs it (`openssl smime -sign -text`). The queue's messages are verified with Tally's own
S/MIME verifier and with `openssl smime -verify` run here, carry exactly the unsigned texts, import
back into a Tally that allows only the signer's DN, and a signer off the list is refused.
Certificates are made in the test with `cryptography`."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tally.domain.errors import NotAllowed
from tally.interop.apel import smime
from tally.interop.apel.outbox import PublishError
from tally.interop.apel.settings import SigningSettings
from tally.interop.apel.signing import load_signer
from tally.services.container import Services
from tests.apel.helpers import fresh, ingest_demo, queue_texts, who
from tests.support.cli import tally
from tests.support.deployments import local_settings
from tests.support.lambdas import REGION

NOW = datetime(2026, 6, 15, tzinfo=UTC)
GRID = "LAKESIDE-GRID"
MONTH = "2026-05"
SIGNER_DN = "/C=UK/O=Tally Test/CN=apel.lakeside.example.org"


@dataclass
class Pem:
    cert: Path
    key: Path
    cert_bytes: bytes
    key_bytes: bytes


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "UK"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tally Test"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _issue(
    folder: Path, cn: str, issuer: tuple[x509.Certificate, object] | None
) -> tuple[x509.Certificate, object, Pem]:
    # Grid host certificates are RSA; the CA here is EC, so both key types are exercised.
    key: object = (
        ec.generate_private_key(ec.SECP256R1()) if issuer is None else rsa.generate_private_key(65537, 2048)
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer[0].subject if issuer else _name(cn))
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW.replace(year=2025))
        .not_valid_after(datetime.now(UTC) + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
        .sign(issuer[1] if issuer else key, hashes.SHA256())  # type: ignore[arg-type]
    )
    cert_bytes = cert.public_bytes(serialization.Encoding.PEM)
    key_bytes = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    stem = cn.split(".")[0]
    (folder / f"{stem}.pem").write_bytes(cert_bytes)
    (folder / f"{stem}.key").write_bytes(key_bytes)
    return cert, key, Pem(folder / f"{stem}.pem", folder / f"{stem}.key", cert_bytes, key_bytes)


@dataclass
class World:
    home: Path
    ca: Path
    signer: Pem
    other: Pem
    unsigned: list[str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    home = tmp_path_factory.mktemp("home")
    svc = fresh(home, GRID, apel={"records_per_message": 40})
    ingest_demo(svc, (GRID,), NOW, jobs=400, months=2)
    folder = tmp_path_factory.mktemp("unsigned")
    svc.apel_publisher.publish(GRID, [MONTH], folder)
    certs = tmp_path_factory.mktemp("certs")
    ca_cert, ca_key, ca = _issue(certs, "Tally Test CA", None)
    _, _, signer = _issue(certs, "apel.lakeside.example.org", (ca_cert, ca_key))
    _, _, other = _issue(certs, "other.example.org", (ca_cert, ca_key))
    texts = queue_texts(folder)
    assert len(texts) >= 2  # summaries and syncs at least
    return World(home, ca.cert, signer, other, texts)


def _signing(pem: Pem) -> dict[str, object]:
    return {"records_per_message": 40, "signing": {"certificate": str(pem.cert), "key": str(pem.key)}}


def _signed_queue(world: World, pem: Pem, folder: Path) -> list[str]:
    svc = Services(local_settings(world.home, apel=_signing(pem)))
    svc.apel_publisher.publish(GRID, [MONTH], folder)
    return queue_texts(folder)


def test_every_published_message_is_signed_and_verifies(world: World, tmp_path: Path) -> None:
    signed = _signed_queue(world, world.signer, tmp_path / "q")
    assert len(signed) == len(world.unsigned)
    for text, plain in zip(signed, world.unsigned, strict=True):
        assert text.startswith("MIME-Version: 1.0") and "multipart/signed" in text
        assert "application/x-pkcs7-signature" in text or "application/pkcs7-signature" in text
        assert "Content-Type: text/plain" in text  # the signed part's header, as `-text` writes it
        verified = smime.verify(text.encode(), world.ca)
        assert verified.signer_dn == SIGNER_DN
        assert verified.content.decode() == plain


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_verifies_the_signature_against_the_ca(world: World, tmp_path: Path) -> None:
    signed = _signed_queue(world, world.signer, tmp_path / "q")
    for n, text in enumerate(signed):
        message = tmp_path / f"m{n}"
        message.write_text(text)
        done = subprocess.run(
            [
                "openssl",
                "smime",
                "-verify",
                "-in",
                str(message),
                "-CAfile",
                str(world.ca),
                "-purpose",
                "any",
                "-text",
            ],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert b"Verification successful" in done.stderr
        # `-text` strips the text/plain header, as ssm's receiver does; line ends are CRLF on the wire.
        assert done.stdout.replace(b"\r\n", b"\n").decode() == world.unsigned[n]
        tampered = tmp_path / f"t{n}"
        changed = text.replace(GRID, "ELSEWHERE-GRID", 1)
        assert changed != text
        tampered.write_text(changed)
        refused = subprocess.run(
            [
                "openssl",
                "smime",
                "-verify",
                "-in",
                str(tampered),
                "-CAfile",
                str(world.ca),
                "-purpose",
                "any",
            ],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert refused.returncode != 0


def test_a_signed_queue_imports_back_for_the_allowed_signer_only(world: World, tmp_path: Path) -> None:
    signed = _signed_queue(world, world.signer, tmp_path / "q")
    unsigned_target = fresh(tmp_path / "plain", GRID)
    expected = [unsigned_target.apel.import_message(t.encode(), who(GRID)) for t in world.unsigned]
    target = fresh(
        tmp_path / "repository",
        GRID,
        apel={"signers": {GRID: [SIGNER_DN]}, "ca_file": str(world.ca)},
    )
    results = [target.apel.import_message(t.encode(), who(GRID)) for t in signed]
    assert [(r.signer, r.accepted, r.rejected) for r in results] == [
        (SIGNER_DN, e.accepted, 0) for e in expected
    ]
    assert sum(r.accepted for r in results) > 0
    # The same messages signed by another certificate of the same CA: not on the site's list.
    foreign = _signed_queue(world, world.other, tmp_path / "other")
    with pytest.raises(NotAllowed, match="not on site"):
        target.apel.import_message(foreign[0].encode(), who(GRID))
    # Unsigned messages are refused by a site that requires signatures.
    with pytest.raises(NotAllowed, match="S/MIME-signed APEL messages only"):
        target.apel.import_message(world.unsigned[0].encode(), who(GRID))


def test_a_key_that_is_not_the_certificate_s_is_refused(world: World, tmp_path: Path) -> None:
    mixed = Pem(world.signer.cert, world.other.key, b"", b"")
    svc = Services(local_settings(world.home, apel=_signing(mixed)))
    with pytest.raises(PublishError, match="does not belong"):
        svc.apel_publisher.publish(GRID, [MONTH], tmp_path / "q")
    assert not (tmp_path / "q").exists() or queue_texts(tmp_path / "q") == []
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    broken = Pem(garbage, world.signer.key, b"", b"")
    with pytest.raises(PublishError, match="cannot be read"):
        Services(local_settings(world.home, apel=_signing(broken))).apel_publisher.publish(
            GRID, [MONTH], tmp_path / "r"
        )
    with pytest.raises(ValueError, match="exactly one of key and key_parameter"):
        SigningSettings.model_validate({"certificate": str(world.signer.cert)})


def test_cli_publish_signs_with_the_configured_certificate(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TALLY_APEL", json.dumps(_signing(world.signer)))
    run = tally(world.home, "apel", "publish", "--site", GRID, "--month", MONTH, "--out", str(tmp_path / "q"))
    assert run.returncode == 0, run.stderr
    texts = queue_texts(tmp_path / "q")
    assert [smime.verify(t.encode(), world.ca).content.decode() for t in texts] == world.unsigned


@pytest.mark.aws
def test_the_certificate_and_key_are_read_from_ssm_or_secrets_manager(
    world: World, moto_endpoint: str
) -> None:
    ssm = boto3.client("ssm", endpoint_url=moto_endpoint, region_name=REGION)
    name = f"/tally/test/{id(world)}/signing-certificate"
    ssm.put_parameter(Name=name, Value=world.signer.cert_bytes.decode(), Type="SecureString", Overwrite=True)
    secrets = boto3.client("secretsmanager", endpoint_url=moto_endpoint, region_name=REGION)
    arn = secrets.create_secret(
        Name=f"tally-signing-key-{id(world)}-{NOW.timestamp():.0f}",
        SecretString=world.signer.key_bytes.decode(),
    )["ARN"]
    section = SigningSettings.model_validate(
        {"certificate_parameter": name, "key_parameter": arn, "aws_endpoint_url": moto_endpoint}
    )
    signer = load_signer(section, REGION)
    verified = smime.verify(signer.sign(world.unsigned[0]).encode(), world.ca)
    assert (verified.signer_dn, verified.content.decode()) == (SIGNER_DN, world.unsigned[0])
    missing = SigningSettings.model_validate(
        {"certificate_parameter": "/tally/test/none", "key_parameter": arn, "aws_endpoint_url": moto_endpoint}
    )
    with pytest.raises(PublishError, match="/tally/test/none"):
        load_signer(missing, REGION)
