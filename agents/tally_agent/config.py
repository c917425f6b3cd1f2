"""Agent configuration: an INI (or JSON) file, every option overridable on the command line.

INI layout (section `[tally]`, plus optional `[slurm]`, `[pbs]`, ... for source options):

    [tally]
    server = https://tally.example.org
    api_key_file = /etc/tally/key
    site = EXAMPLE-SITE
    resource = cluster1
    timezone = Europe/Berlin
    batch_system = slurm
    benchmark_type = HEPscore23
    benchmark_per_core = 12.5
    ca_bundle = /etc/pki/tls/certs/ca-bundle.crt
    client_cert = /etc/tally/client.pem
    client_key = /etc/tally/client.key
    spool_dir = /var/spool/tally-agent
"""

from __future__ import annotations

import configparser
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Optional

DEFAULT_CONFIG = "/etc/tally-agent.ini"


class ConfigError(ValueError):
    """The configuration is missing something a command needs, or holds a bad value."""


@dataclass
class Config:
    server: str = ""
    api_key: str = ""
    api_key_file: str = ""
    site: str = ""
    resource: str = ""
    timezone: str = "UTC"
    batch_system: str = "slurm"
    benchmark_type: str = ""
    benchmark_per_core: Optional[float] = None
    ca_bundle: str = ""
    client_cert: str = ""
    client_key: str = ""
    spool_dir: str = "/var/spool/tally-agent"
    state_dir: str = ""
    timeout: float = 30.0
    attempts: int = 3
    retry_delay: float = 2.0
    retry_base_seconds: float = 300.0
    retry_max_seconds: float = 6 * 3600.0
    overlap_seconds: int = 3600
    first_run_days: int = 7
    max_batch_records: int = 5000
    max_batch_bytes: int = 4_000_000
    gpu: bool = True
    identity_logs: List[str] = field(default_factory=list)
    storage_paths: List[str] = field(default_factory=list)
    options: Dict[str, Dict[str, str]] = field(default_factory=dict)

    def key(self) -> str:
        if self.api_key:
            return self.api_key
        if self.api_key_file:
            return Path(self.api_key_file).read_text(encoding="utf-8").strip()
        env = os.environ.get("TALLY_AGENT_KEY", "")
        if env:
            return env
        raise ConfigError("no api_key or api_key_file configured")

    def source_options(self, name: str) -> Dict[str, str]:
        return dict(self.options.get(name, {}))

    def require(self, *names: str) -> None:
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            raise ConfigError(f"missing configuration: {', '.join(missing)}")
        if "server" in names:
            from tally_agent.transport import server_url_problem  # the HTTPS client: not for `parse`

            problem = server_url_problem(self.server)
            if problem:
                raise ConfigError(problem)


_LISTS = ("identity_logs", "storage_paths")


def _coerce(name: str, value: Any) -> Any:
    kinds = {f.name: f.type for f in fields(Config)}
    kind = str(kinds[name])
    if name in _LISTS:
        if isinstance(value, list):
            return [str(v) for v in value]
        return [v.strip() for v in str(value).replace("\n", ",").split(",") if v.strip()]
    if kind == "bool":
        return str(value).strip().lower() in ("1", "yes", "true", "on")
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "Optional[float]":
        return float(value) if str(value).strip() else None
    return str(value)


def load(path: Optional[str], overrides: Dict[str, Any]) -> Config:
    """The config file (if any) with command-line overrides (None values are ignored)."""
    config = Config()
    names = {f.name for f in fields(Config)} - {"options"}
    values: Dict[str, Any] = {}
    if path:
        file = Path(path)
        if not file.exists():
            raise ConfigError(f"config file {path} not found")
        text = file.read_text(encoding="utf-8")
        if text.lstrip().startswith("{"):
            document = json.loads(text)
            values.update({k: v for k, v in document.items() if k in names})
            config.options = {
                k: {str(a): str(b) for a, b in v.items()} for k, v in document.get("sources", {}).items()
            }
        else:
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(text, source=str(file))
            if parser.has_section("tally"):
                values.update({k: v for k, v in parser.items("tally") if k in names})
            config.options = {s: dict(parser.items(s)) for s in parser.sections() if s != "tally"}
    values.update({k: v for k, v in overrides.items() if v is not None and k in names})
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"unknown options: {sorted(unknown)}")
    for name, value in values.items():
        try:
            setattr(config, name, _coerce(name, value))
        except ValueError as exc:
            raise ConfigError(f"bad value for {name}: {value!r}") from exc
    if config.benchmark_type and config.benchmark_type not in ("HEPscore23", "HS06", "si2k"):
        raise ConfigError("benchmark_type must be HEPscore23, HS06 or si2k")
    if not config.state_dir:
        config.state_dir = config.spool_dir
    return config
