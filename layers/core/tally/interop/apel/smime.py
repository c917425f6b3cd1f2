"""S/MIME-signed APEL messages (as SSM sends them): verify the signature, name the signer.

`cryptography` signs PKCS#7 but does not verify it, so verification runs `openssl smime -verify`
(the tool SSM itself is built on) on temporary files, with a time limit; the signer's subject is
read with `openssl x509` in the grid's `/C=../CN=..` form, so the Lambda needs no `cryptography`.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tally.domain.errors import MalformedBody, NotAllowed, Unsupported

OPENSSL_SECONDS = 20


@dataclass(frozen=True)
class Signed:
    content: bytes
    signer_dn: str


def is_smime(data: bytes) -> bool:
    head = data[:8192].lower()
    return b"mime-version:" in head and (b"pkcs7" in head or b"multipart/signed" in head)


def normalise_dn(dn: str) -> str:
    """The slash form of a DN written either way (`/C=UK/CN=x` or RFC 4514 `CN=x,C=UK`)."""
    text = dn.strip()
    if text.startswith("/"):
        return text
    return "".join(f"/{part.strip()}" for part in reversed(text.split(",")) if part.strip())


def _openssl(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["openssl", *command], capture_output=True, timeout=OPENSSL_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise MalformedBody("the S/MIME message could not be verified in time") from None
    except OSError:
        raise Unsupported(
            "S/MIME-signed messages cannot be verified here: openssl is not installed"
        ) from None


def verify(data: bytes, ca_file: Path | None) -> Signed:
    """The signed content and its signer; with `ca_file`, the signer's chain is verified too."""
    with tempfile.TemporaryDirectory(prefix="tally-smime-") as folder:
        root = Path(folder)
        (root / "in").write_bytes(data)
        command = ["smime", "-verify", "-in", str(root / "in"), "-out", str(root / "out")]
        command += ["-signer", str(root / "signer.pem"), "-purpose", "any"]
        command += ["-CAfile", str(ca_file)] if ca_file else ["-noverify"]
        done = _openssl(command)
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
            raise NotAllowed(
                f"the S/MIME signature does not verify: {(reason or ['no reason given'])[-1][:200]}"
            )
        subject = _openssl(
            ["x509", "-in", str(root / "signer.pem"), "-noout", "-subject", "-nameopt", "compat"]
        )
        name = subject.stdout.decode("utf-8", errors="replace").strip().removeprefix("subject=").strip()
        if subject.returncode != 0 or not name.startswith("/"):
            raise NotAllowed("the S/MIME signer's certificate names no subject")
        return Signed(signed_text((root / "out").read_bytes()), name)


def signed_text(content: bytes) -> bytes:
    """The message of a signed part: without the `text/plain` MIME header that `-text` signing
    (ssm's `crypto.sign`) puts before it, and with the CRLF line ends of S/MIME canonical text
    made LF again, as ssm's receiver does (`crypto.verify` splits the header off at the blank line)."""
    if not content[:64].lower().startswith(b"content-type:"):
        return content
    text = content.replace(b"\r\n", b"\n")
    header, blank, body = text.partition(b"\n\n")
    if not blank or b"text/plain" not in header.lower() or b"content-transfer-encoding" in header.lower():
        return content
    return body
