"""Settings from the environment: one dataclass, defaults that run with no servers.

Every variable hookline reads is named in ``VARIABLES``; deploy files are checked against it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shared.config_numbers import NUMBER_RULES, parse_numeric_setting, shown_value
from shared.config_values import parse_mv_aliases, parse_store_url
from shared.errors import ConfigError

DEFAULT_BASE_URL = "https://api.cometapi.com"

# name -> (Settings attribute, parser name); parsers below, numeric ones in shared.config_numbers.
VARIABLES: dict[str, tuple[str, str]] = {
    "COMETAPI_BASE_URL": ("base_url", "http_url"),
    "COMETAPI_KEY": ("api_key", "str"),
    "COMETAPI_CONNECT_TIMEOUT": ("connect_timeout", "seconds"),
    "COMETAPI_READ_TIMEOUT": ("read_timeout", "seconds"),
    "COMETAPI_EXPORT_PATHS": ("export_paths", "export_paths"),
    "COMETAPI_MV_ALIASES": ("mv_aliases", "mv_aliases"),
    "COMETAPI_BALANCE_URL": ("balance_url", "http_url"),
    "HOOKLINE_VAR_DIR": ("var_dir", "path"),
    "HOOKLINE_DATABASE_URL": ("database_url", "db_url"),
    "HOOKLINE_BROKER_URL": ("broker_url", "broker_url"),
    "HOOKLINE_PUBLIC_URL": ("public_url", "http_url"),
    "HOOKLINE_HOOK_SECRET": ("hook_secret", "str"),
    "HOOKLINE_PORT": ("port", "port"),
    "HOOKLINE_API_TOKEN": ("api_token", "str"),
    "HOOKLINE_RECONCILE_INTERVAL": ("reconcile_interval", "seconds"),
    "HOOKLINE_BEAT_LEASE": ("beat_lease", "seconds"),
    "HOOKLINE_CALLBACK_GRACE": ("callback_grace", "seconds"),
    "HOOKLINE_QUEUED_GRACE": ("queued_grace", "seconds"),
    "HOOKLINE_JOB_DEADLINE": ("job_deadline", "seconds"),
    "HOOKLINE_SUBMIT_MAX_RETRIES": ("submit_max_retries", "retries"),
    "HOOKLINE_RETRY_BASE": ("retry_base", "seconds"),
    "HOOKLINE_LOG_LEVEL": ("log_level", "str"),
    "HOOKLINE_LOG_FORMAT": ("log_format", "str"),
    "HOOKLINE_ARTIFACT_DIR": ("artifact_dir", "path"),
    "HOOKLINE_ARTIFACT_STORE": ("artifact_store", "store_url"),
    "HOOKLINE_ARTIFACT_REDIRECT": ("artifact_redirect", "flag"),
    # The standard AWS names (read by the S3 artifact store; keys and secrets come from boto3's own chain).
    "AWS_REGION": ("s3_region", "str"),
    "AWS_ENDPOINT_URL": ("s3_endpoint_url", "http_url"),
    "HOOKLINE_DOWNLOAD_ALLOWLIST": ("download_allowlist", "host_list"),
    "HOOKLINE_MAX_ARTIFACT_BYTES": ("max_artifact_bytes", "bytes"),
    "HOOKLINE_CALLBACK_ALLOWLIST": ("callback_allowlist", "host_list"),
    "HOOKLINE_BUDGET_USD_PER_DAY": ("budget_usd_per_day", "usd_per_day"),
    "HOOKLINE_AMBIGUOUS_GRACE": ("ambiguous_grace", "seconds"),
    "HOOKLINE_VERIFY": ("verify_mode", "verify_mode"),
    "HOOKLINE_UPSTREAM_RATE": ("upstream_rate", "calls_per_second"),
    "HOOKLINE_UPSTREAM_BURST": ("upstream_burst", "calls"),
    "HOOKLINE_MAX_IN_FLIGHT": ("max_in_flight", "tasks"),
    "HOOKLINE_ADMISSION_WINDOW": ("admission_window", "jobs"),
    "HOOKLINE_PRIORITY_AGEING": ("priority_ageing", "seconds"),
    "HOOKLINE_HOOK_RATE_PER_SOURCE": ("hook_rate_per_source", "callbacks_per_second"),
    "HOOKLINE_TRUSTED_PROXIES": ("trusted_proxies", "nonneg_int"),
    "HOOKLINE_UI_PASSWORD": ("ui_password", "str"),
    "HOOKLINE_SECURE_COOKIES": ("secure_cookies", "flag"),
    "HOOKLINE_METRICS_TOKEN": ("metrics_token", "str"),
    "HOOKLINE_WEBHOOK_SCHEDULE": ("webhook_schedule", "seconds_list"),
    "HOOKLINE_EXPORT_DEADLINE": ("export_deadline", "seconds"),
    "HOOKLINE_MAX_PIPELINE_STEPS": ("max_pipeline_steps", "steps"),
    "HOOKLINE_MAX_FAN_OUT": ("max_fan_out", "branches"),
    "HOOKLINE_MAX_BULK_LINES": ("max_bulk_lines", "lines"),
    "HOOKLINE_MAX_PROMPT_CHARS": ("max_prompt_chars", "characters"),
    "HOOKLINE_MAX_TAGS_CHARS": ("max_tags_chars", "characters"),
    "HOOKLINE_MAX_TITLE_CHARS": ("max_title_chars", "characters"),
    "HOOKLINE_RETENTION_DAYS": ("retention_days", "days"),
}


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Build it with ``load_settings()``; never read os.environ elsewhere."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = field(default=None, repr=False)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    export_paths: str = "auto"  # seed | act | auto: which path family the GET exports use (see cometapi.endpoints)
    mv_aliases: tuple[tuple[str, str], ...] = ()  # (as written, as sent) model names, e.g. chirp-v3.5=chirp-v3-5
    balance_url: str | None = None  # the balance query's host; None: query.cometapi.com for api.cometapi.com, else
    # the base URL's own host (a gateway or the sandbox that answers /user/quota, or "unknown" where none does)
    var_dir: Path = Path("var")
    database_url: str = ""  # filled from var_dir when empty
    broker_url: str = ""  # filled from var_dir when empty
    public_url: str | None = None
    hook_secret: str | None = field(default=None, repr=False)
    port: int = 8000
    api_token: str | None = field(default=None, repr=False)
    reconcile_interval: float = 15.0
    beat_lease: float = 30.0  # seconds a dead beat's lock lasts before a standby beat takes over
    callback_grace: float = 60.0
    queued_grace: float = 120.0
    job_deadline: float = 3600.0
    submit_max_retries: int = 3
    retry_base: float = 2.0
    log_level: str = "INFO"
    log_format: str | None = None  # "json" for structured logs
    artifact_dir: Path | None = None  # default: var_dir / "artifacts"
    artifact_store: str = ""  # file:///path or s3://bucket/prefix; default file://<artifact_dir>
    artifact_redirect: bool = False  # answer artifact downloads with a short-lived signed URL where the store has one
    s3_region: str | None = None
    s3_endpoint_url: str | None = None
    download_allowlist: tuple[str, ...] = ()  # extra hosts artifacts may be fetched from
    max_artifact_bytes: int = 200 * 1024 * 1024
    callback_allowlist: tuple[str, ...] = ()  # extra hosts a producer's callback_url may point to
    budget_usd_per_day: float | None = None
    ambiguous_grace: float = 180.0  # seconds to wait for an orphan callback before resubmitting
    verify_mode: str | None = None  # "fetch": confirm COMPLETE callbacks by fetching the task
    upstream_rate: float | None = None  # global upstream calls per second (all workers); None: unlimited
    upstream_burst: float | None = None
    max_in_flight: int | None = None  # global cap on upstream tasks in flight; 0/None: no cap
    admission_window: int = 8  # jobs admitted (their submit published) but not yet sent upstream, at most
    priority_ageing: float = 300.0  # seconds of waiting that raise a queued job's priority by one class (100)
    hook_rate_per_source: float = 10.0  # rejected callbacks per second per source address before 429s
    trusted_proxies: int = 0  # reverse proxies in front of the receiver whose X-Forwarded-For is believed
    ui_password: str | None = field(default=None, repr=False)
    secure_cookies: bool = False  # dashboard cookies Secure even over plain http (always over https)
    metrics_token: str | None = field(default=None, repr=False)  # when set, /metrics wants "Bearer <token>"
    webhook_schedule: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
    export_deadline: float = 600.0  # seconds a GET export / Udio poll may take before the job fails
    # Limits on paid work one request may ask for (README "Limits"); users raise them when they mean it.
    max_pipeline_steps: int = 50
    max_fan_out: int = 10  # jobs one `pick: each` step may start
    max_bulk_lines: int = 10_000
    # The CometAPI docs give no lengths (only 413 "reduce prompt length"): generous caps above Suno's own editor.
    max_prompt_chars: int = 10_000  # prompt, gpt_description_prompt, lyrics
    max_tags_chars: int = 1_000  # tags, negative_tags, Udio negative_prompt
    max_title_chars: int = 200
    retention_days: int | None = None  # when set, the beat prunes finished work older than this once a day

    @property
    def polling_mode(self) -> bool:
        """No public URL: no notify_hook is sent and the reconciler polls every in-flight job."""
        return not self.public_url

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url.startswith(EMBEDDED_BROKER_SCHEME)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


EMBEDDED_BROKER_SCHEME = "hookline-sqla+"
FLAG_WORDS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False,
              "off": False, "": False}


def _parse(kind: str, name: str, raw: str) -> Any:
    if kind in NUMBER_RULES:
        return parse_numeric_setting(kind, name, raw)
    value = raw.strip()
    if kind == "str":
        return value or None
    if kind == "path":
        return Path(value)
    if kind == "http_url":
        if not value:
            return None
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:  # a bad port, "http://[", characters that NFKC turns into "/" or "#"
            raise ConfigError(name, f"not a valid URL ({exc}): {shown_value(value)}") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(name, f"expected an http(s) URL with a host, got {shown_value(value)}")
        return value.rstrip("/")
    if kind == "db_url":
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value)
        except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
            # Never echo the credentials: show the scheme and what follows the last "@" only.
            shown = value.partition("://")[0] + "://…@" + value.rpartition("@")[2] if "@" in value else value
            raise ConfigError(name, f"not a SQLAlchemy database URL: {shown_value(shown)}") from exc
        return value
    if kind == "broker_url":
        if "://" not in value:
            raise ConfigError(name, f"not a broker URL (e.g. redis://localhost:6379/0): {value!r}")
        return value
    if kind == "host_list":
        hosts = tuple(h.strip().lower() for h in value.split(",") if h.strip())
        for host in hosts:
            if "/" in host or " " in host:
                raise ConfigError(name, f"expected comma-separated host names, got {host!r}")
        return hosts
    if kind == "flag":
        if value.lower() not in FLAG_WORDS:
            raise ConfigError(name, f"expected 1 or 0 (true/false, yes/no, on/off), got {shown_value(value)}")
        return FLAG_WORDS[value.lower()]
    if kind == "export_paths":
        if value.lower() not in ("seed", "act", "auto"):
            raise ConfigError(name, f"expected seed, act or auto, got {shown_value(value)}")
        return value.lower()
    if kind == "mv_aliases":
        return parse_mv_aliases(name, value)
    if kind == "store_url":
        return parse_store_url(name, value)
    if kind == "verify_mode":
        if value not in ("", "fetch"):
            raise ConfigError(name, f"expected 'fetch' or empty, got {value!r}")
        return value or None
    raise AssertionError(kind)


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults, then the environment, then explicit overrides (tests)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for name, (attr, kind) in VARIABLES.items():
        if name in env:
            parsed = _parse(kind, name, env[name])
            if parsed is not None:
                values[attr] = parsed
    values.update(overrides)
    settings = Settings(**values)
    var_dir = Path(settings.var_dir)
    if not settings.database_url:
        settings = replace(settings, database_url=f"sqlite:///{var_dir / 'hookline.db'}")
    if settings.artifact_dir is None:
        settings = replace(settings, artifact_dir=var_dir / "artifacts")
    if not settings.broker_url:
        settings = replace(settings, broker_url=f"{EMBEDDED_BROKER_SCHEME}sqlite:///{var_dir / 'broker.db'}")
    return settings


def artifact_store_url(settings: Settings) -> str:
    """HOOKLINE_ARTIFACT_STORE, else the file store at HOOKLINE_ARTIFACT_DIR (default ``var/artifacts``)."""
    if settings.artifact_store:
        return settings.artifact_store
    return "file://" + str(Path(settings.artifact_dir or Path(settings.var_dir) / "artifacts").resolve())


def hook_secrets(settings: Settings) -> tuple[bytes, ...]:
    """Every configured hook secret, the signing one first (HOOKLINE_HOOK_SECRET="new,old" during a rotation: the
    first signs, all verify); with none configured, one generated once under var/ with mode 0600."""
    generated = Path(settings.var_dir) / "hook_secret"
    return configured_hook_secrets(settings) or (_stored_secret(str(generated.resolve())),)


def configured_hook_secrets(settings: Settings) -> tuple[bytes, ...]:
    return tuple(part.strip().encode() for part in (settings.hook_secret or "").split(",") if part.strip())


def hook_secret(settings: Settings) -> bytes:
    """The secret that signs: callback tokens, dashboard sessions, producers' whsec_ secrets."""
    return hook_secrets(settings)[0]


def servers_in_use(settings: Settings) -> list[str]:
    """Which of the database and the broker are servers (shared by several hosts), not the embedded default."""
    servers = []
    if not settings.database_url.startswith("sqlite"):
        servers.append("the database (HOOKLINE_DATABASE_URL)")
    if not settings.embedded_broker:
        servers.append("the broker (HOOKLINE_BROKER_URL)")
    return servers


def require_shared_secret(settings: Settings) -> None:
    """ConfigError when a receiver, worker or beat would run against servers with a per-host generated secret."""
    servers = servers_in_use(settings)
    if servers and not configured_hook_secrets(settings):
        raise ConfigError("HOOKLINE_HOOK_SECRET", (
            f"required because {' and '.join(servers)} {'is a server' if len(servers) == 1 else 'are servers'}: "
            "every receiver and worker must share one secret, or callbacks signed on one host get 401 on another "
            "and whsec_ signatures and dashboard sessions break; set the same value on every host "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"))


@lru_cache(maxsize=16)
def _stored_secret(path_text: str) -> bytes:
    """Read once per process: every callback and every submit needs it, and it never changes."""
    path = Path(path_text)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process won the race; read theirs
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32))
    return path.read_text().strip().encode()
