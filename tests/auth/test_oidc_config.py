"""The settings section of single sign-on: what it accepts, refuses, and reads from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from tally.auth.oidc import SUPPORTED_ALGORITHMS, OidcConfig

BASE = {
    "issuer": "https://aai.egi.eu/auth/realms/egi",
    "client_id": "tally",
    "redirect_uri": "https://t.example/cb",
}


def test_defaults_are_the_standard_scopes_and_the_client_as_audience() -> None:
    config = OidcConfig.model_validate(BASE)
    assert config.scopes == ("openid", "email", "profile")
    assert config.audience is None and config.expected_audience == "tally"
    assert config.client_secret is None
    assert config.discovery_url == "https://aai.egi.eu/auth/realms/egi/.well-known/openid-configuration"
    assert OidcConfig.model_validate(BASE | {"issuer": "https://idp.example/"}).discovery_url == (
        "https://idp.example/.well-known/openid-configuration"
    )
    assert OidcConfig.model_validate(BASE | {"audience": "urn:tally"}).expected_audience == "urn:tally"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("issuer", "http://idp.example.org"),  # plain http off loopback
        ("issuer", "https://idp.example.org?realm=x"),
        ("issuer", "https://user:pw@idp.example.org"),
        ("issuer", "ftp://idp.example.org"),
        ("redirect_uri", "http://tally.example.org/cb"),
        ("redirect_uri", "https://tally.example.org/cb#x"),
        ("scopes", ("email", "profile")),  # no openid
        ("scopes", ("openid", "two words")),
        ("allowed_algorithms", ("none",)),
        ("allowed_algorithms", ("HS256",)),
        ("allowed_algorithms", ()),
        ("client_id", ""),
        ("http_timeout_seconds", 0),
        ("max_response_bytes", 10),
    ],
)
def test_unsafe_or_malformed_settings_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        OidcConfig.model_validate(BASE | {field: value})


def test_loopback_http_and_every_asymmetric_algorithm_are_accepted() -> None:
    for issuer in ("http://127.0.0.1:8080", "http://localhost:9000/realms/x", "http://[::1]:1234"):
        assert OidcConfig.model_validate(BASE | {"issuer": issuer}).issuer == issuer
    config = OidcConfig.model_validate(BASE)
    assert config.allowed_algorithms == SUPPORTED_ALGORITHMS
    assert not {a for a in SUPPORTED_ALGORITHMS if a.startswith("HS") or a == "none"}


def test_the_secret_is_never_shown() -> None:
    config = OidcConfig.model_validate(BASE | {"client_secret": "s3cr3t-value"})
    assert "s3cr3t-value" not in repr(config) and "s3cr3t-value" not in str(config.model_dump())
    assert config.client_secret is not None and config.client_secret.get_secret_value() == "s3cr3t-value"


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TALLY_TEST_", env_nested_delimiter="__")
    oidc: OidcConfig | None = None


def test_it_nests_in_the_settings_as_json_or_by_field(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _Settings().oidc is None
    monkeypatch.setenv(
        "TALLY_TEST_OIDC",
        '{"issuer": "https://idp.example", "client_id": "tally", "redirect_uri": "https://t.example/cb",'
        ' "scopes": ["openid", "email"]}',
    )
    from_json = _Settings().oidc
    assert from_json is not None and from_json.scopes == ("openid", "email")
    monkeypatch.delenv("TALLY_TEST_OIDC")
    for name, value in {
        "ISSUER": "https://idp.example",
        "CLIENT_ID": "tally",
        "REDIRECT_URI": "https://t/cb",
    }.items():
        monkeypatch.setenv(f"TALLY_TEST_OIDC__{name}", value)
    monkeypatch.setenv("TALLY_TEST_OIDC__CLIENT_SECRET", "from-env")
    by_field = _Settings().oidc
    assert by_field is not None and by_field.client_id == "tally" and by_field.client_secret is not None
    assert by_field.client_secret.get_secret_value() == "from-env"
