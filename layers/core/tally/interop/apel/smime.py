"""S/MIME-signed APEL messages (as SSM sends them): verify the signature, name the signer.

`cryptography` signs PKCS#7 but does not verify it, so verification runs `openssl smime -verify`
(the tool SSM itself is built on) on temporary files, with a time limit.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from tally.services.problems import bad_request, forbidden

OPENSSL_SECONDS = 20
_SHORT = {
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "commonName": "CN",
    "domainComponent": "DC",
    "emailAddress": "emailAddress",
}


@dataclass(frozen=True)
class Signed:
    content: bytes
    signer_dn: str


def is_smime(data: bytes) -> bool:
    head = data[:8192].lower()
    return b"mime-version:" in head and (b"pkcs7" in head or b"multipart/signed" in head)


def slash_dn(name: x509.Name) -> str:
    """A certificate subject in the grid's `/C=../O=../CN=..` form (its RDNs in certificate order)."""
    parts = []
    for rdn in name.rdns:
        for attribute in rdn:
            label = _SHORT.get(attribute.oid._name, attribute.oid.dotted_string)
            parts.append(f"/{label}={attribute.value!s}")
    return "".join(parts)


def normalise_dn(dn: str) -> str:
    """The slash form of a DN written either way (`/C=UK/CN=x` or RFC 4514 `CN=x,C=UK`)."""
    text = dn.strip()
    if text.startswith("/"):
        return text
    return "".join(f"/{part.strip()}" for part in reversed(text.split(",")) if part.strip())


def verify(data: bytes, ca_file: Path | None) -> Signed:
    """The signed content and its signer; with `ca_file`, the signer's chain is verified too."""
    with tempfile.TemporaryDirectory(prefix="tally-smime-") as folder:
        root = Path(folder)
        (root / "in").write_bytes(data)
        command = [
            "openssl",
            "smime",
            "-verify",
            "-in",
            str(root / "in"),
            "-out",
            str(root / "out"),
            "-signer",
            str(root / "signer.pem"),
            "-purpose",
            "any",
        ]
        command += ["-CAfile", str(ca_file)] if ca_file else ["-noverify"]
        try:
            done = subprocess.run(command, capture_output=True, timeout=OPENSSL_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            raise bad_request("the S/MIME message could not be verified in time") from None
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
            raise forbidden(
                f"the S/MIME signature does not verify: {(reason or ['no reason given'])[-1][:200]}"
            )
        signer = x509.load_pem_x509_certificate((root / "signer.pem").read_bytes())
        return Signed((root / "out").read_bytes(), slash_dn(signer.subject))
