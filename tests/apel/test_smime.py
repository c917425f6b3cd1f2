"""S/MIME-signed APEL messages (as SSM sends them): verified against a site's allow-list of signer
DNs, with the signer's chain checked against the configured CA. Certificates are made here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from tally.api.app import create_app
from tally.services.container import Services
from tests.apel.helpers import fixture
from tests.support.deployments import local_settings
from tests.support.servers import running_app
from tests.support.warehouse import rows

ALLOWED = "/C=UK/O=Tally Test/CN=apel.example.org"
NOW = datetime.now(UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "UK"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tally Test"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


@dataclass
class Identity:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _issue(cn: str, issuer: Identity | None) -> Identity:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return Identity(cert, key)


def _sign(message: bytes, signer: Identity) -> bytes:
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(message)
        .add_signer(signer.cert, signer.key, hashes.SHA256())
        .sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature])
    )


@dataclass
class World:
    url: str
    key: str
    ca: Identity
    signer: Identity
    other: Identity
    rogue: Identity
    svc: Services
    b_key: str


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    ca = _issue("Tally Test CA", None)
    signer, other = _issue("apel.example.org", ca), _issue("other.example.org", ca)
    rogue = _issue("apel.example.org", None)  # the allowed DN, but self-signed
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    settings = local_settings(
        tmp_path / "home", apel={"signers": {"SITE-A": [ALLOWED]}, "ca_file": str(ca_file)}
    )
    app = create_app(settings)
    svc: Services = app.state.services
    svc.add_site("SITE-A")
    svc.add_site("SITE-B")
    key = svc.create_key("SITE-A").plain
    world = World("", key, ca, signer, other, rogue, svc, svc.create_key("SITE-B").plain)
    with running_app(app) as url:
        world.url = url
        yield world


def _post(world: World, body: bytes, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or world.key}"}
    with httpx.Client(base_url=world.url, headers=headers, timeout=60) as http:
        return http.post("/v1/apel", content=body)


def _message(site: str = "SITE-A") -> bytes:
    return fixture("job_v04.txt").replace(b"TALLY-TEST", site.encode())


def test_an_allowed_signer_is_taken_in(world: World) -> None:
    answer = _post(world, _sign(_message(), world.signer))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["signer"], answer.json()["accepted"]) == (ALLOWED, 3)
    assert len(rows(world.svc.warehouse, "jobs")) == 3


@pytest.mark.parametrize("who", ["other", "rogue", "unsigned", "tampered"])
def test_anything_else_is_refused(world: World, who: str) -> None:
    if who == "unsigned":
        body = _message()
    elif who == "tampered":
        body = _sign(_message(), world.signer).replace(b"WallDuration: 1000", b"WallDuration: 9000")
    else:
        body = _sign(_message(), getattr(world, who))
    answer = _post(world, body)
    assert answer.status_code == 403, answer.text
    assert rows(world.svc.warehouse, "jobs") == []


def test_a_site_without_a_list_takes_signed_messages_and_names_the_signer(world: World) -> None:
    answer = _post(world, _sign(_message("SITE-B"), world.other), key=world.b_key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["signer"] == "/C=UK/O=Tally Test/CN=other.example.org"


def test_a_signer_list_needs_a_ca() -> None:
    with pytest.raises(ValueError, match="ca_file"):
        local_settings(Path("unused"), apel={"signers": {"SITE-A": [ALLOWED]}})
