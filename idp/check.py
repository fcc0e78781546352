"""``idp check``: the operator's checklist before (and after) a start, an upgrade or a
restore. One line per check, ``ok``, ``warning`` or ``problem`` with what to do; exit 1
on a problem. It only reads: no migration, no key created, no mail sent.

Nothing it prints carries a secret: URLs lose their user and password, errors are named
by their type, never by their text (a driver's message may quote a connection string)."""

from __future__ import annotations

import json
import re
import smtplib
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import click
import redis
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from cryptography.exceptions import InvalidTag
from flask import Flask, current_app
from sqlalchemy.pool import NullPool

from idp import keys as signing
from idp.accounts.models import User
from idp.extensions import db, utcnow
from idp.health import connect_args
from idp.oauth.subjects import PairwiseSubject, generate_pairwise_sub, pairwise_key
from idp.rotation import query_keys
from idp.settings import ConfigError, Settings

OK, WARNING, PROBLEM = "ok", "warning", "problem"
TIMEOUT = 5  # seconds for each service to answer
# Tokens carry iat/exp and TOTP codes live 30 seconds: a clock this far from the
# database's makes tokens look expired or not yet valid to platforms.
CLOCK_SKEW_LIMIT = 5.0


@dataclass(frozen=True)
class Result:
    """One line of the report: the check, its status, what was found, what to do."""

    name: str
    status: str
    detail: str
    advice: str = ""


def redact(url: str) -> str:
    """The URL without its user and password (``smtp://***@host:587``), nor a password
    given in its query (``?password=``, which redis-py and libpq accept)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc and "password=" not in parts.query.lower():
        return url  # unchanged (urlunsplit would drop sqlite:////'s empty host)
    netloc = re.sub(r"^.*@", "***@", parts.netloc)
    query = re.sub(r"(?i)\b(password=)[^&]*", r"\1***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def describe_error(error: BaseException) -> str:
    """The error's type and its cause's, never their text (which may quote a URL)."""
    cause = getattr(error, "orig", None) or error.__cause__
    return type(error).__name__ + (f" ({type(cause).__name__})" if cause else "")


def check_configuration(settings: Settings) -> Result:
    """The settings loaded, so the production rules passed (``idp.settings``)."""
    if not settings.is_production:
        return Result("configuration", WARNING, f"IDP_ENV={settings.env}: the production "
                      "rules are not applied", "set IDP_ENV=production on a real deployment")
    if not settings.is_https:
        return Result("configuration", WARNING, "production with an http loopback issuer",
                      "only behind a TLS-terminating proxy on this host")
    return Result("configuration", OK, f"production, issuer {settings.issuer}")


def check_database(settings: Settings) -> Iterator[Result]:
    """Reachable within TIMEOUT, migrations at head; then the clock against its own."""
    url = sa.make_url(settings.database_url)
    where = redact(settings.database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        # Connecting would create an empty file; this command only reads.
        yield Result("database", PROBLEM, f"{where}: no such file",
                     "check IDP_DATABASE_URL, or create it with `idp db upgrade`")
        return
    engine = sa.create_engine(url, poolclass=NullPool, connect_args=connect_args(url))
    try:
        with engine.connect() as connection:
            yield migrations_result(connection, where)
            yield clock_result(connection)
    except sa.exc.SQLAlchemyError as error:
        yield Result("database", PROBLEM, f"{where} cannot be reached: {describe_error(error)}",
                     "check IDP_DATABASE_URL and that the database server is up")
    finally:
        engine.dispose()


def migrations_result(connection: sa.Connection, where: str) -> Result:
    script = ScriptDirectory(current_app.extensions["migrate"].directory)
    heads = set(script.get_heads())
    current = set(MigrationContext.configure(connection).get_current_heads())
    if current == heads:
        return Result("database", OK, f"{where}, migrations at head ({', '.join(sorted(heads))})")
    known = {rev.revision for rev in script.walk_revisions()}
    if current - known:
        return Result("database", PROBLEM, f"{where} was migrated by a newer release "
                      f"({', '.join(sorted(current - known))})",
                      "run the release that migrated it, or restore a backup")
    found = ", ".join(sorted(current)) or "empty"
    return Result("database", PROBLEM, f"{where} is behind head ({found}, head "
                  f"{', '.join(sorted(heads))})", "run `idp db upgrade` once")


def clock_result(connection: sa.Connection) -> Result:
    """PostgreSQL's now() against this host's clock, halfway through the round trip."""
    if connection.dialect.name != "postgresql":
        return Result("clock", OK, "SQLite shares this host's clock")
    before = time.time()
    server = connection.execute(sa.text("SELECT now()")).scalar_one()
    after = time.time()
    skew = server.timestamp() - (before + after) / 2
    side = "behind" if skew < 0 else "ahead of"
    detail = f"the database's is {abs(skew):.1f} s {side} this host's"
    if abs(skew) > CLOCK_SKEW_LIMIT:
        return Result("clock", PROBLEM, detail,
                      f"synchronise both clocks (NTP); the limit is {CLOCK_SKEW_LIMIT:.0f} s")
    return Result("clock", OK, detail)


def check_redis(settings: Settings) -> Result:
    if not settings.redis_url:
        return Result("redis", WARNING, "not configured: each process keeps its own "
                      "throttling counts", "set IDP_REDIS_URL when running several workers")
    where = redact(settings.redis_url)
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=TIMEOUT,
                                  socket_connect_timeout=TIMEOUT)
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        return Result("redis", PROBLEM, f"{where} does not answer PING: "
                      f"{describe_error(error)}", "check IDP_REDIS_URL and that Redis is up")
    finally:
        client.close()
    return Result("redis", OK, f"{where} answers PING")


def check_smtp(settings: Settings) -> Result:
    """Connect, EHLO, STARTTLS when offered, log in when the URL has a user; no mail."""
    if not settings.smtp_url:
        return Result("smtp", WARNING, "not configured: mail is printed to the console",
                      "set IDP_SMTP_URL")
    parts, where = urlsplit(settings.smtp_url), redact(settings.smtp_url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        return Result("smtp", PROBLEM, f"{where} is not smtp://host:port or smtps://host:port",
                      "fix IDP_SMTP_URL")
    try:
        tls = smtp_handshake(parts.scheme, parts.hostname, parts.port,
                             unquote(parts.username or ""), unquote(parts.password or ""))
    except (OSError, smtplib.SMTPException) as error:
        return Result("smtp", PROBLEM, f"{where}: {describe_error(error)}",
                      "check IDP_SMTP_URL (host, port, user) and that the server is up")
    if not tls:
        return Result("smtp", WARNING, f"{where} answers but offers no TLS",
                      "use a relay that offers STARTTLS, or one on this host only")
    return Result("smtp", OK, f"{where} answers, with TLS")


def smtp_handshake(scheme: str, host: str, port: int | None, user: str, password: str) -> bool:
    """The steps ``idp.mail`` takes before sending, then QUIT. True when encrypted."""
    context = ssl.create_default_context()
    server: smtplib.SMTP
    if scheme == "smtps":
        server = smtplib.SMTP_SSL(host, port or 465, timeout=TIMEOUT, context=context)
    else:
        server = smtplib.SMTP(host, port or 587, timeout=TIMEOUT)
    with server:
        server.ehlo()
        tls = scheme == "smtps"
        if not tls and server.has_extn("starttls"):
            server.starttls(context=context)
            server.ehlo()
            tls = True
        if user:
            server.login(user, password)
    return tls


def check_keys(settings: Settings) -> Iterator[Result]:
    """An active key per supported alg, every stored key decryptable with the KEK, and
    when the next one signs."""
    try:
        rows = query_keys()
    except sa.exc.SQLAlchemyError as error:
        yield Result("keys", PROBLEM, f"cannot be read: {describe_error(error)}",
                     "fix the database first")
        return
    if not rows:
        yield Result("keys", WARNING, "no signing key yet: the provider creates them at "
                     "its first start", "start the provider, or run `idp keys list`")
        return
    states = signing.derive_states(rows, utcnow(), signing.retention(settings))
    unreadable = [row.kid for row in rows if states[row.kid].state != signing.REMOVED
                  and not decrypts(row, settings.kek_bytes)]
    if unreadable:
        yield Result("keys", PROBLEM, f"{len(unreadable)} key(s) cannot be decrypted with "
                     f"IDP_KEY_ENCRYPTION_KEY ({', '.join(unreadable)})",
                     "set the key-encryption key these keys were stored with")
    else:
        yield Result("keys", OK, f"{len(rows)} stored, each decryptable with "
                     "IDP_KEY_ENCRYPTION_KEY")
    for alg in signing.SUPPORTED_ALGS:
        yield key_result(alg, [row for row in rows if row.alg == alg], states, set(unreadable))


def decrypts(row: signing.SigningKey, kek: bytes) -> bool:
    try:
        signing.load_key(row, kek)
    except (InvalidTag, ValueError):
        return False
    return True


def key_result(alg: str, rows: list[signing.SigningKey], states: dict[str, signing.KeyState],
               unreadable: set[str]) -> Result:
    active = [row.kid for row in rows if states[row.kid].state == signing.ACTIVE]
    waiting = [row for row in rows if states[row.kid].state == signing.NEXT]
    if not active:
        return Result(f"keys {alg}", PROBLEM, "no active key",
                      f"run `idp keys rotate --alg {alg} --publish-delay 0`")
    if active[-1] in unreadable:
        return Result(f"keys {alg}", PROBLEM, f"the active key {active[-1]} cannot sign",
                      "set the key-encryption key it was stored with")
    detail = f"active {active[-1]}"
    if waiting:
        detail += f"; next {waiting[0].kid} signs from {waiting[0].activates_at.isoformat()}"
    return Result(f"keys {alg}", OK, detail)


def check_secret_key() -> Result:
    """Pairwise subjects are HMACs under a key derived from IDP_SECRET_KEY (OIDC Core
    8.1): recomputing the newest stored one tells whether this is the secret the
    database was used with. Another one would show every traveller to platforms as a
    new person (and sign everyone out, and change the audit log's pseudonyms)."""
    row = db.session.execute(
        db.select(PairwiseSubject.sector, PairwiseSubject.sub, User.subject)
        .join(User, User.id == PairwiseSubject.user_id)
        .order_by(PairwiseSubject.id.desc()).limit(1)).first()
    if row is None:
        return Result("secret key", OK, "no pairwise subject stored yet to compare with")
    if generate_pairwise_sub(row.sector, row.subject, pairwise_key()) != row.sub:
        return Result("secret key", PROBLEM, "IDP_SECRET_KEY is not the one this database "
                      "was used with: platforms would not recognise their travellers",
                      "set the secret key this database was used with")
    return Result("secret key", OK, "IDP_SECRET_KEY matches the stored pairwise subjects")


def run_checks(create_app: Callable[[], Flask]) -> list[Result]:
    """Every check, in the order an operator would fix them."""
    try:
        app = create_app()
    except ConfigError as error:  # its message names the variable, never a value
        return [Result("configuration", PROBLEM, str(error), "fix the setting named")]
    settings: Settings = app.extensions["idp.settings"]
    with app.app_context():
        try:
            results = [check_configuration(settings), *check_database(settings)]
            if not any(r.name == "database" and r.status == PROBLEM for r in results):
                results += [*check_keys(settings), check_secret_key()]
            results += [check_redis(settings), check_smtp(settings)]
        finally:
            db.session.remove()
            db.engine.dispose()
    return results


def print_report(results: list[Result], as_json: bool) -> None:
    if as_json:
        ok = not any(r.status == PROBLEM for r in results)
        click.echo(json.dumps({"ok": ok, "checks": [asdict(r) for r in results]}))
        return
    for result in results:
        line = f"{result.status:<8} {result.name:<14} {result.detail}"
        click.echo(line + (f" -> {result.advice}" if result.advice and
                           result.status != OK else ""))


@click.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check(as_json: bool) -> None:
    """Check the configuration, database, Redis, SMTP, signing keys and clock; exit 1 on
    a problem. Reads only: safe on a running deployment."""
    from idp import create_app

    results = run_checks(create_app)
    print_report(results, as_json)
    if any(result.status == PROBLEM for result in results):
        sys.exit(1)
