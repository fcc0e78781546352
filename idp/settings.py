"""Typed settings, built once from defaults, then ``IDP_*`` environment variables,
then the test overrides. Outside development the provider fails closed, saying why."""

from __future__ import annotations

import base64
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from idp.secret_files import (  # noqa: F401 (generate_key: the settings' public helper)
    SecretFileError,
    development_secrets,
    generate_key,
    read_secret_files,
)

ENVIRONMENTS = ("development", "production", "testing")


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the message says what to set."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    issuer: str = "http://127.0.0.1:5000"
    database_url: str = ""
    secret_key: str = ""
    key_encryption_key: str = ""
    # Lifetimes in seconds. Codes are short-lived (RFC 9700 4.2.1 recommends well under 10 min).
    code_lifetime: int = 60
    access_token_lifetime: int = 3600
    id_token_lifetime: int = 3600
    refresh_token_lifetime: int = 30 * 24 * 3600
    # Public clients (mobile and single-page apps) hold their refresh tokens where a
    # thief may find them, with no secret to go with them: RFC 9700 4.14.2 wants them
    # rotated (always here) and short-lived. Absolute: from the family's first issue,
    # not reset by rotation. Idle: since the token was issued, i.e. the family's last use.
    public_refresh_token_lifetime: int = 7 * 24 * 3600
    public_refresh_token_idle: int = 24 * 3600
    # A browser session ends at the first of: this long after login (absolute), or this
    # long without a request (idle). OWASP ASVS 3.3: both bounded, both configurable.
    session_lifetime: int = 14 * 24 * 3600
    session_idle_timeout: int = 3 * 24 * 3600
    # Changing the email, phone, password or second factor needs a password typed this
    # recently (ASVS 7.5.1).
    reauth_max_age: int = 5 * 60
    # Emailed links: password reset (30 minutes) and address verification.
    password_reset_lifetime: int = 30 * 60
    email_verification_lifetime: int = 24 * 3600
    # Outgoing mail: smtp://user:pass@host:port (STARTTLS when offered), smtps:// for
    # implicit TLS; empty: mail is printed to the console (development only).
    smtp_url: str = ""
    # Text messages (one-time codes by SMS, idp.sms): console:, file:///path (one JSON
    # line per message, for tests and demos) or a provider's URL; empty: printed to the
    # console in development, and no SMS route offered in production.
    sms_url: str = ""
    mail_from: str = "Mobility ID <no-reply@mobility-id.localhost>"
    # Redis for shared state between workers (throttling); empty: in-process memory.
    redis_url: str = ""
    # How many reverse proxies (nginx...) stand in front and set X-Forwarded-For: the
    # client address used for throttling is the one they saw. 0: never trust the header.
    trusted_proxies: int = 0
    # Their addresses (comma-separated addresses or CIDR networks): the headers are
    # believed only from a request whose peer is one of them. Loopback by default, where
    # a proxy on the same machine (nginx, Caddy) forwards to gunicorn.
    trusted_proxy_addresses: str = "127.0.0.1/32,::1/128"
    # Host names accepted besides the issuer's, comma-separated in IDP_EXTRA_HOSTS: an
    # internal name such as a container health check's "localhost". Links never use them.
    extra_hosts: tuple[str, ...] = ()
    # A MaxMind-format city or country database (.mmdb) to name the approximate place of
    # each session on the account page; empty: the network prefix is shown instead.
    geoip_database: str = ""
    # Consent is asked again after this (GDPR guidance: renew it periodically).
    consent_lifetime: int = 365 * 24 * 3600
    # How long a platform's pending request waits for the traveller (IDP_INTERACTION_LIFETIME;
    # see the Interactions block below).
    interaction_lifetime: int = 60 * 60
    # A new signing key is published this long before it signs, so that platforms'
    # cached JWKS already hold it (JWKS responses are cacheable for 5 minutes).
    key_publish_delay: int = 24 * 3600
    # How often each process looks in the database for keys another process added (a
    # rotation by `idp keys rotate`, another instance's first key): a new key is published
    # by every instance at most this long after it was stored. 0: at every request.
    key_recheck_seconds: int = 30
    # argon2id, OWASP's profile (m=19 MiB, t=2, p=1); lowered only in tests.
    argon2_time_cost: int = 2
    argon2_memory_cost: int = 19 * 1024
    argon2_parallelism: int = 1
    min_password_length: int = 15
    max_password_length: int = 128
    # Largest authorization request accepted, in bytes of its parameters.
    max_authorization_request: int = 2048
    languages: tuple[str, ...] = ("fr", "en")
    # Times shown to travellers (sessions page, mail); stored times stay UTC.
    timezone: str = "Europe/Paris"
    # Requests to addresses platforms chose (idp.outbound): loopback is reachable outside
    # production only (local platforms, the demo); None follows the environment, and
    # production never reaches it. Seconds to connect and between two reads of an answer.
    outbound_allow_loopback: bool | None = None
    outbound_timeout: float = 3.0
    # Production wants an https issuer. A test bench (or a host whose own TLS-terminating
    # proxy forwards to the provider on loopback) may run the production command with an
    # http loopback issuer, and only by saying so with this setting.
    allow_http_loopback_issuer: bool = False
    # DPoP server nonces (RFC 9449 8 and 9), off by default. When on, a proof must carry
    # a nonce the provider handed out in a DPoP-Nonce header: an HMAC of the current time
    # window, keyed from the secret key, so every instance agrees without a shared store.
    # A nonce is accepted in its window and the next one.
    dpop_nonce: bool = False
    dpop_nonce_window: int = 300
    # Logs (idp.logs): "json" (one object a line, for a log collector) or "text" (a
    # console); empty: JSON in production, text elsewhere. The level is gunicorn's too.
    log_format: str = ""
    log_level: str = "info"
    # Metrics (idp.metrics): /metrics answers only a request bearing this token
    # (Authorization: Bearer ...); empty, /metrics is 404. At least 32 characters in
    # production: a scraper's secret, never the public's.
    metrics_token: str = ""
    # Human help (idp.help): who runs the service and how a person reaches a human. Shown
    # on every page; empty in development means demo values, in production a warning.
    operator_name: str = ""
    operator_address: str = ""
    help_phone: str = ""
    help_email: str = ""
    help_hours: str = ""
    help_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def allows_loopback_fetches(self) -> bool:
        if self.is_production:
            return False
        return self.outbound_allow_loopback is not False

    @property
    def is_https(self) -> bool:
        return self.issuer.startswith("https://")

    @property
    def kek_bytes(self) -> bytes:
        return decode_key(self.key_encryption_key)


ENV_NAMES = {
    "env": "IDP_ENV",
    "issuer": "IDP_ISSUER",
    "database_url": "IDP_DATABASE_URL",
    "secret_key": "IDP_SECRET_KEY",
    "key_encryption_key": "IDP_KEY_ENCRYPTION_KEY",
    "code_lifetime": "IDP_CODE_LIFETIME",
    "access_token_lifetime": "IDP_ACCESS_TOKEN_LIFETIME",
    "id_token_lifetime": "IDP_ID_TOKEN_LIFETIME",
    "refresh_token_lifetime": "IDP_REFRESH_TOKEN_LIFETIME",
    "public_refresh_token_lifetime": "IDP_PUBLIC_REFRESH_TOKEN_LIFETIME",
    "public_refresh_token_idle": "IDP_PUBLIC_REFRESH_TOKEN_IDLE",
    "session_lifetime": "IDP_SESSION_LIFETIME",
    "session_idle_timeout": "IDP_SESSION_IDLE_TIMEOUT",
    "reauth_max_age": "IDP_REAUTH_MAX_AGE",
    "password_reset_lifetime": "IDP_PASSWORD_RESET_LIFETIME",
    "email_verification_lifetime": "IDP_EMAIL_VERIFICATION_LIFETIME",
    "smtp_url": "IDP_SMTP_URL",
    "sms_url": "IDP_SMS_URL",
    "mail_from": "IDP_MAIL_FROM",
    "redis_url": "IDP_REDIS_URL",
    "timezone": "IDP_TIMEZONE",
    "trusted_proxies": "IDP_TRUSTED_PROXIES",
    "trusted_proxy_addresses": "IDP_TRUSTED_PROXY_ADDRESSES",
    "extra_hosts": "IDP_EXTRA_HOSTS",
    "geoip_database": "IDP_GEOIP_DATABASE",
    "consent_lifetime": "IDP_CONSENT_LIFETIME",
    "key_publish_delay": "IDP_KEY_PUBLISH_DELAY",
    "key_recheck_seconds": "IDP_KEY_RECHECK_SECONDS",
    "allow_http_loopback_issuer": "IDP_ALLOW_HTTP_LOOPBACK_ISSUER",
    "dpop_nonce": "IDP_DPOP_NONCE",
    "dpop_nonce_window": "IDP_DPOP_NONCE_WINDOW",
}
# Metrics.
ENV_NAMES["metrics_token"] = "IDP_METRICS_TOKEN"
MIN_METRICS_TOKEN = 32

# Interactions (issue 12, WCAG 2.2.1 Timing Adjustable): a platform's pending request
# waits this long for the traveller to log in and decide. Only that wait is long: codes
# and tokens keep their own short lifetimes. One hour lets someone slow with a keyboard,
# or helped on the phone, finish; the login page says so in words, and a request that
# still expires can be restarted with one button (idp.oauth.expiry).
ENV_NAMES["interaction_lifetime"] = "IDP_INTERACTION_LIFETIME"
MIN_INTERACTION_LIFETIME = 5 * 60
# An expired request stays restartable this long (idp.oauth.interactions), and a form's
# CSRF token lasts as long: someone who logs in after an hour gets the page that leads
# back to the platform, not "your form has expired". The token stays bound to the session.
INTERACTION_KEPT_EXPIRED = 24 * 3600


def form_time_limit(settings: Settings) -> int:
    """Seconds a form's CSRF token is accepted (Flask-WTF's WTF_CSRF_TIME_LIMIT): an hour
    more than a request is kept, so that a late answer is told which way is left."""
    return settings.interaction_lifetime + INTERACTION_KEPT_EXPIRED + 3600


def validate_interaction_lifetime(settings: Settings) -> None:
    if settings.interaction_lifetime < MIN_INTERACTION_LIFETIME:
        raise ConfigError("IDP_INTERACTION_LIFETIME must be at least 300 seconds: "
                          "people need time to log in.")


# Logs: their own block.
ENV_NAMES.update({"log_format": "IDP_LOG_FORMAT", "log_level": "IDP_LOG_LEVEL"})
LOG_FORMATS = ("json", "text")

# Human help: its own block (idp.help reads it).
ENV_NAMES.update({"operator_name": "IDP_OPERATOR_NAME",
                  "operator_address": "IDP_OPERATOR_ADDRESS",
                  "help_phone": "IDP_HELP_PHONE", "help_email": "IDP_HELP_EMAIL",
                  "help_hours": "IDP_HELP_HOURS", "help_url": "IDP_HELP_URL"})
PHONE_CHARACTERS = frozenset("+0123456789 .-()")


def validate_help(settings: Settings) -> None:
    """A help number must be dialable from a ``tel:`` link (RFC 3966), a help page an
    https (or loopback http) URL: a wrong one would send people nowhere."""
    phone = settings.help_phone
    if phone and (set(phone) - PHONE_CHARACTERS or sum(c.isdigit() for c in phone) < 3):
        raise ConfigError("IDP_HELP_PHONE must be a phone number such as +33 1 23 45 67 89.")
    if settings.help_email and "@" not in settings.help_email.strip("@"):
        raise ConfigError("IDP_HELP_EMAIL must be an email address.")
    url = urlsplit(settings.help_url)
    if settings.help_url and not (url.scheme == "https" or (
            url.scheme == "http" and is_loopback(url.hostname or ""))):
        raise ConfigError("IDP_HELP_URL must be an https URL.")
SMS_FORMS = ("console:, file:///path/outbox.jsonl or "
             "brevo://API_KEY@api.brevo.com?sender=Name")


def validate_sms_url(url: str) -> None:
    """IDP_SMS_URL names a sender ``idp.sms`` has; plain http only to a loopback
    stand-in. The message never repeats the value, which may hold a key."""
    parts = urlsplit(url)
    ok = (not url or url == "console:"
          or (parts.scheme == "file" and parts.path.startswith("/") and not parts.netloc)
          or (parts.scheme == "brevo" and bool(parts.username and parts.hostname))
          or (parts.scheme == "brevo+http" and bool(parts.username and parts.hostname)
              and is_loopback(parts.hostname or "")))
    if not ok:
        raise ConfigError(f"IDP_SMS_URL must be {SMS_FORMS}.")


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def choose_log_format(value: str, env: str) -> str:
    """IDP_LOG_FORMAT, or by default JSON in production and text elsewhere."""
    chosen = value.strip().lower() or ("json" if env == "production" else "text")
    if chosen not in LOG_FORMATS:
        raise ConfigError(f"IDP_LOG_FORMAT must be json or text, not {value!r}.")
    return chosen


def settle_logging(settings: Settings) -> Settings:
    level = settings.log_level.strip().lower()
    if level not in LOG_LEVELS:
        raise ConfigError(f"IDP_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}.")
    return replace(settings, log_level=level,
                   log_format=choose_log_format(settings.log_format, settings.env))


TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def decode_key(value: str) -> bytes:
    """Decode a urlsafe base64 32-byte key, as ``idp`` generates them."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError) as exc:
        raise ConfigError("IDP_KEY_ENCRYPTION_KEY is not urlsafe base64.") from exc
    if len(raw) != 32:
        raise ConfigError("IDP_KEY_ENCRYPTION_KEY must decode to 32 bytes.")
    return raw


def load_settings(
    instance_path: Path,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Defaults, then the environment, then ``overrides``; then the safety checks."""
    try:
        environ = read_secret_files(os.environ if environ is None else environ,
                                    ENV_NAMES.values())
    except SecretFileError as error:
        raise ConfigError(str(error)) from None
    values: dict[str, Any] = {}
    types = {f.name: f.type for f in fields(Settings)}
    for name, var in ENV_NAMES.items():
        if var in environ and environ[var] != "":
            values[name] = _convert(var, environ[var], types[name])
    values.update(overrides or {})  # the test overrides win over the environment
    settings = replace(Settings(), **values)
    if settings.env not in ENVIRONMENTS:
        raise ConfigError(f"IDP_ENV must be one of {', '.join(ENVIRONMENTS)}.")
    settings = replace(settings, issuer=settings.issuer.rstrip("/"))
    settings = settle_logging(settings)
    if not settings.database_url:
        settings = replace(settings, database_url=f"sqlite:///{instance_path / 'idp.sqlite3'}")
    if settings.is_production:
        validate_production(settings)
        validate_metrics(settings)
    elif not (settings.secret_key and settings.key_encryption_key):
        secret_key, kek = development_secrets(instance_path)
        settings = replace(settings, secret_key=settings.secret_key or secret_key,
                           key_encryption_key=settings.key_encryption_key or kek)
    validate_issuer(settings.issuer)
    validate_timezone(settings.timezone)
    validate_help(settings)
    validate_interaction_lifetime(settings)
    validate_sms_url(settings.sms_url)
    if settings.dpop_nonce_window < 10:
        raise ConfigError("IDP_DPOP_NONCE_WINDOW must be at least 10 seconds.")
    decode_key(settings.key_encryption_key)
    return settings




def _convert(var: str, raw: str, kind: Any) -> Any:
    if kind in (bool, "bool"):
        if raw.strip().lower() not in TRUE + FALSE:
            raise ConfigError(f"{var} must be one of {', '.join(TRUE + FALSE)}.")
        return raw.strip().lower() in TRUE
    if kind in (int, "int"):
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"{var} must be a whole number of seconds.") from exc
    if kind in (tuple[str, ...], "tuple[str, ...]"):
        return tuple(item.strip().lower() for item in raw.split(",") if item.strip())
    return raw


def validate_issuer(issuer: str) -> None:
    """OIDC Core 2: https, no query or fragment; http only on loopback."""
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("IDP_ISSUER must be an absolute https URL.")
    if parts.query or parts.fragment or "?" in issuer or "#" in issuer:
        raise ConfigError("IDP_ISSUER must not have a query or a fragment.")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError("IDP_ISSUER must use https unless it is a loopback address.")


def validate_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"IDP_TIMEZONE must be an IANA time zone such as Europe/Paris, "
                          f"not {name!r}.") from exc


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_production(settings: Settings) -> None:
    missing = [
        var
        for name, var in (
            ("secret_key", "IDP_SECRET_KEY"),
            ("key_encryption_key", "IDP_KEY_ENCRYPTION_KEY"),
        )
        if not getattr(settings, name)
    ]
    if missing:
        raise ConfigError(
            f"IDP_ENV=production needs {' and '.join(missing)}; "
            "generate each with `python -c 'import secrets,base64;"
            "print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())'`."
        )
    if len(settings.secret_key) < 32:
        raise ConfigError("IDP_SECRET_KEY must be at least 32 characters in production.")
    if not settings.issuer.startswith("https://") and not allowed_http_issuer(settings):
        raise ConfigError("IDP_ISSUER must be an https URL in production (an http loopback "
                          "issuer needs IDP_ALLOW_HTTP_LOOPBACK_ISSUER=1).")
    if not settings.smtp_url:
        # Without mail, nobody could verify an address or reset a password.
        raise ConfigError("IDP_ENV=production needs IDP_SMTP_URL (smtp://host:port or smtps://).")
    if not settings.redis_url:
        # Each gunicorn worker would keep its own throttling counts: the limits would
        # multiply by the number of workers.
        raise ConfigError("IDP_ENV=production needs IDP_REDIS_URL (redis://host:6379/0), "
                          "shared by every worker for throttling.")


def validate_metrics(settings: Settings) -> None:
    """A guessable metrics token would show anyone the traffic and the platforms' names."""
    if settings.metrics_token and len(settings.metrics_token) < MIN_METRICS_TOKEN:
        raise ConfigError(f"IDP_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN} "
                          "characters in production.")


def allowed_http_issuer(settings: Settings) -> bool:
    """An http issuer in production: on a loopback address, and only when asked for."""
    host = urlsplit(settings.issuer).hostname
    return settings.allow_http_loopback_issuer and bool(host) and is_loopback(str(host))
