"""S/MIME signing of outgoing APEL messages, as SSM's sender signs them.

ssm's `crypto.sign` runs `openssl smime -sign -inkey KEY -signer CERT -text`: a clear-signed
(detached, `multipart/signed`) message whose signed part carries a `text/plain` MIME header, the
signer's certificate included, SHA-256. `cryptography`'s PKCS7SignatureBuilder with
`DetachedSignature` and `Text` writes the same structure, so a repository's `ssm` (and
tally.interop.apel.smime) verifies it. The certificate and key come from PEM files or, on AWS,
from Secrets Manager / SSM Parameter Store, read once when the signer is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs7

from tally.interop.apel.ams import read_secret
from tally.interop.apel.outbox import Outbox, PublishError
from tally.interop.apel.settings import SigningSettings


class MessageSigner:
    """Signs message texts with one certificate and its private key (RSA or EC, as PKCS#7 allows)."""

    def __init__(self, certificate_pem: bytes, key_pem: bytes) -> None:
        try:
            self.certificate = x509.load_pem_x509_certificate(certificate_pem)
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError) as exc:
            raise PublishError(f"the APEL signing certificate or key cannot be read: {exc}") from exc
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise PublishError("the APEL signing key must be an RSA or EC key")
        if _public(key.public_key()) != _public(self.certificate.public_key()):
            # ssm checks this too (`check_cert_key`): a mismatched pair signs what nobody verifies.
            raise PublishError("the APEL signing key does not belong to the signing certificate")
        self._key = key

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()

    def sign(self, text: str) -> str:
        signed = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(text.encode())
            .add_signer(self.certificate, self._key, hashes.SHA256())
            .sign(
                serialization.Encoding.SMIME,
                [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Text],
            )
        )
        return signed.decode()


def _public(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_signer(section: SigningSettings, region: str) -> MessageSigner:
    """The signer `apel.signing` configures: PEM files, or secrets read from AWS."""

    def pem(path: Path | None, name: str | None, what: str) -> bytes:
        if name is not None:
            return read_secret(name, region, section.aws_endpoint_url, what).encode() + b"\n"
        try:
            return Path(str(path)).read_bytes()
        except OSError as exc:
            raise PublishError(f"cannot read {what} {path}: {exc.strerror}") from exc

    return MessageSigner(
        pem(section.certificate, section.certificate_parameter, "the APEL signing certificate"),
        pem(section.key, section.key_parameter, "the APEL signing key"),
    )


@dataclass
class SignedOutbox:
    """An outbox whose every message is signed first (the queue then holds S/MIME texts, as
    ssmsend's own signing would send them)."""

    inner: Outbox
    signer: MessageSigner

    @property
    def target(self) -> str:
        return self.inner.target

    def add(self, text: str) -> str:
        return self.inner.add(self.signer.sign(text))
