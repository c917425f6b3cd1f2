"""The `apel` section of Tally's settings (`TALLY_APEL` as a JSON object)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class AmsSettings(BaseModel):
    """Direct publishing to ARGO AMS (`apel.ams`): where, and the token (given, or named on AWS)."""

    model_config = ConfigDict(frozen=True)

    host: str = Field(min_length=1)  # e.g. msg.argo.grnet.gr (optionally host:port)
    project: str = Field(min_length=1)  # e.g. EGI
    topic: str = Field(min_length=1)  # the topic the repository reads
    token: SecretStr | None = None
    # On AWS: a Secrets Manager secret ARN, or an SSM parameter name (SecureString).
    token_parameter: str | None = None
    # A CA bundle for the AMS host's certificate (default: the system's / certifi's).
    ca_bundle: Path | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    # Retries of a timed-out or load-balancer-refused publish, this many seconds apart.
    retries: int = Field(default=3, ge=0, le=10)
    retry_seconds: float = Field(default=10.0, ge=0)
    # Only for tests: the Secrets Manager / SSM endpoint (moto's server).
    aws_endpoint_url: str | None = None

    @model_validator(mode="after")
    def _one_token(self) -> AmsSettings:
        if (self.token is None) == (self.token_parameter is None):
            raise ValueError("apel.ams needs exactly one of token and token_parameter")
        return self


class SigningSettings(BaseModel):
    """S/MIME signing of published messages (`apel.signing`), as SSM's sender signs them: the host
    certificate and its key, each a PEM file or (on AWS) named, as the AMS token is."""

    model_config = ConfigDict(frozen=True)

    certificate: Path | None = None
    key: Path | None = None
    # On AWS: a Secrets Manager secret ARN, or an SSM parameter name (SecureString), holding the PEM.
    certificate_parameter: str | None = None
    key_parameter: str | None = None
    # Only for tests: the Secrets Manager / SSM endpoint (moto's server).
    aws_endpoint_url: str | None = None

    @model_validator(mode="after")
    def _one_of_each(self) -> SigningSettings:
        if (self.certificate is None) == (self.certificate_parameter is None):
            raise ValueError("apel.signing needs exactly one of certificate and certificate_parameter")
        if (self.key is None) == (self.key_parameter is None):
            raise ValueError("apel.signing needs exactly one of key and key_parameter")
        return self


class ApelSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    # Per site, the DNs whose S/MIME signatures it accepts (`/C=UK/O=eScience/CN=host` or RFC 4514).
    # A site listed here must sign every message; the signer's chain must lead to `ca_file`.
    signers: dict[str, list[str]] = Field(default_factory=dict)
    ca_file: Path | None = None
    # The SSM outgoing directory queue publishing writes to (`tally apel publish --out` overrides).
    outgoing_dir: Path | None = None
    # Where the scheduled publisher on AWS writes the queue's files: `s3://bucket/prefix`, one
    # `<prefix>/<site>/` a site, for the site's ssmsend host to move into its outgoing queue.
    outgoing_uri: str | None = Field(default=None, pattern=r"^s3://[^/]+(/.*)?$")
    # Publish straight to ARGO AMS (the scheduled publisher then writes no S3 queue files).
    ams: AmsSettings | None = None
    # Sign every published message (S/MIME, as ssmsend does when it is given a certificate).
    signing: SigningSettings | None = None
    # APEL's unloader writes at most 1,000 records a message (`apel/db/unloader.py`).
    records_per_message: int = Field(default=1000, ge=1, le=1000)
    # Sites the scheduled publisher covers; all sites when empty.
    publish_sites: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _signers_need_a_ca(self) -> ApelSettings:
        if self.signers and self.ca_file is None:
            raise ValueError("apel.signers needs apel.ca_file: a signer's DN proves nothing without its CA")
        return self
