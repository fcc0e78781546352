"""Resistance to guessing: how many sign-in attempts an account and a network may make.

References: OWASP ASVS 4.0 2.2.1 (anti-automation: rate limiting, soft lockout, notify
the owner) and NIST SP 800-63B 5.2.2 (rate limiting; prefer growing delays over hard
lockout, which lets anyone lock a traveller out).

The rules:

- Per account, whatever the attempt (``password``, ``otp``, ``recovery``): the first
  ``FREE_FAILURES`` failures cost nothing. Each further failure makes the account refuse
  attempts for a delay that doubles from ``FIRST_DELAY`` up to ``MAX_DELAY``. During the
  delay every attempt, even with the right secret, is refused without being checked (so
  the refusal reveals nothing and costs no password hashing) and does not count. The
  failures are forgotten after ``QUIET_PERIOD`` without any, or at a success.
- NIST SP 800-63B 5.2.2 allows no more than 100 consecutive failures: at
  ``LOCK_AFTER_FAILURES`` the account is locked (for ``STREAK_LIFETIME``) until its owner
  signs in or resets the password by email, which proves who they are; they are told.
- The account is keyed by an HMAC of the normalized email under the app's secret key,
  whether or not an account has this address: an unknown address is throttled exactly
  like a known one (no enumeration), and the storage (Redis) never holds an address.
- ``password`` has its own counter; ``otp`` and ``recovery`` share one, the second
  factor's: a guesser who knows the password must not get two budgets for the second step.
- Per client network (an IPv4 address, an IPv6 /64): ``IP_LIMITS`` failed checks of a
  secret across all accounts (credential stuffing, password spraying) on the forms of
  ``SIGN_IN_ENDPOINTS``. Over the limit, only the accounts that already failed from this
  network are refused, so that an office full of travellers is not shut out by one
  guesser (``idp.accounts.throttle_network``). Every request to ``EVERY_POST_ENDPOINTS``
  counts in a plain per-network limit (each may send a mail; none checks a secret).
  Refused with a friendly 429 page.
- The client address is the socket's unless the request comes from one of the operator's
  proxies (``IDP_TRUSTED_PROXIES``, ``IDP_TRUSTED_PROXY_ADDRESSES``, ``idp.proxies``).
- Notices (``idp.accounts.throttle_notices``): the owner of an existing account is told
  once when a run of failures first reaches a delay, and when a sign-in succeeds after
  ``NOTICE_AFTER_FAILURES`` or more failures.

State lives in the limiter's storage (Redis when ``IDP_REDIS_URL`` is set, else this
process's memory), one ``Limiter`` per app in ``app.extensions``. When Redis cannot be
reached, these forms answer 503 (``idp.accounts.throttle_refusals``): no attempt goes
uncounted. Nothing sleeps in the request thread: a refusal says how long to wait.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_limiter import Limiter
from limits.storage import Storage

from idp.accounts import throttle_network, throttle_notices, throttle_refusals
from idp.accounts.events import announce_sign_in
from idp.accounts.service import normalize_email
from idp.accounts.throttle_network import IP_LIMITS
from idp.accounts.throttle_refusals import NetworkRefused, minutes

FREE_FAILURES = 5
FIRST_DELAY = 30  # seconds; then 1 min, 2 min, 4 min...
MAX_DELAY = 15 * 60
QUIET_PERIOD = 24 * 3600  # failures are forgotten after a day without any
STREAK_LIFETIME = 30 * 24 * 3600  # storage housekeeping; the quiet period resets first
LOCK_AFTER_FAILURES = 100  # NIST SP 800-63B 5.2.2: at most 100 consecutive failures
NOTICE_AFTER_FAILURES = 3  # a single typo is not worth a mail
KINDS = {"password": "password", "otp": "second-factor", "recovery": "second-factor"}
# The forms that check a secret through ``attempt``/``refusal``: each failure there
# counts for the account and against the client's network (``throttle_network``).
SIGN_IN_ENDPOINTS = {
    "accounts.login", "reauth.confirm", "second_step.code", "second_step.recovery",
    "credentials.change_password", "rights.delete", "email.verify",
    "advisors.login", "advisors.code",  # mobility advisors' sign-in (idp.advisors)
}
# Forms where every post counts, failed or not (their answer never says): a plain limit.
EVERY_POST_ENDPOINTS = {"recovery.forgot", "accounts.signup", "accounts.resend_signup_link",
                        "sms_recovery.ask", "sms_recovery.again", "sms_recovery.code",
                        "phone.send", "sms_signup.send", "sms_signup.code"}
PREFIX = "idp-throttle"


@dataclass(frozen=True)
class Failure:
    """A failure recorded: the run's length, and whether it just reached the first delay."""

    failures: int
    delay: int

    @property
    def starts_lock(self) -> bool:
        return self.failures == FREE_FAILURES + 1

    @property
    def locks_account(self) -> bool:
        return self.failures == LOCK_AFTER_FAILURES


@dataclass(frozen=True)
class Outcome:
    """A throttled check: ``ok`` when the secret was right; ``refusal`` (HTTP 429) when it
    was not even checked because the account must wait."""

    ok: bool
    refusal: str | None = None


class MailPostLimiter(Limiter):
    """Flask-Limiter, checking only the mail-sending forms' posts. Its request filter
    (``request_filter``) is consulted deep inside its check, after the check has set up
    its context and scanned its limits: 10 % of a discovery request's CPU, on every
    request of every endpoint (issue 13). Here every other request returns at once."""

    def _check_request_limit(self, callable_name: str | None = None,
                             in_middleware: bool = True) -> None:
        if is_not_a_mail_post():
            return
        super()._check_request_limit(callable_name, in_middleware)


def init_app(app: Flask) -> None:
    """One limiter per app: its storage holds the per-network windows and the per-account
    runs; its own windows limit the mail-sending forms. Call after every sign-in
    blueprint is registered."""
    redis_url = app.extensions["idp.settings"].redis_url
    limiter = MailPostLimiter(
        key_func=throttle_network.network_id,
        application_limits=list(IP_LIMITS),
        strategy="moving-window",
        storage_uri=redis_url or "memory://",
        storage_options=storage_options(redis_url),
        # Redis unreachable: a 503 (throttle_refusals), never an uncounted attempt.
        swallow_errors=False,
        headers_enabled=False,
    )
    # Every other request leaves the limiter at its first check (MailPostLimiter); the
    # sign-in forms are limited per account and network (throttle_network), not by the
    # limiter's plain windows.
    limiter.init_app(app)
    app.extensions["idp.throttle"] = limiter
    throttle_refusals.init_app(app)


def storage_options(redis_url: str) -> dict[str, Any]:
    """Redis errors raised as limits' ``StorageError`` whatever the operation; short
    timeouts, so that an unreachable server means a quick 503, not a hung worker."""
    if not redis_url:
        return {}
    return {"wrap_exceptions": True, "socket_connect_timeout": 2, "socket_timeout": 2}


def is_not_a_mail_post() -> bool:
    return request.method != "POST" or request.endpoint not in EVERY_POST_ENDPOINTS


def account_key(kind: str, email: str) -> str:
    """A key for this address's run of ``kind`` failures: an HMAC, so the storage never
    holds the address and nobody without the secret key can test one against it."""
    secret = current_app.config["SECRET_KEY"].encode()
    mac = hmac.new(secret, normalize_email(email).encode(), hashlib.sha256).hexdigest()
    return f"{PREFIX}:{KINDS[kind]}:{mac[:40]}"


def retry_after(kind: str, email: str) -> int:
    """Seconds this account must wait before a ``kind`` attempt is checked; 0: go ahead."""
    return _remaining(throttle_refusals.storage(), account_key(kind, email))


def refusal(kind: str, email: str) -> str | None:
    """The words refusing an attempt on this account now, or None if it may be checked.
    The same for an unknown address as for a known one. Raises ``NetworkRefused`` when
    this network is over its limit and this account already failed from it."""
    wait = retry_after(kind, email)
    if not wait:
        try:
            throttle_network.validate_network(KINDS[kind], email)
        except NetworkRefused:
            announce_sign_in("throttled", KINDS[kind])
            raise
        return None
    announce_sign_in("throttled", KINDS[kind])
    if wait > MAX_DELAY:
        return str(_l("This account is locked after too many attempts. To open it again, "
                      "reset your password with the link “Forgot your password?”."))
    return ngettext(
        "Too many attempts for this account. Try again in %(num)d minute.",
        "Too many attempts for this account. Try again in %(num)d minutes.",
        minutes(wait),
    )


def record_failure(kind: str, email: str) -> Failure:
    """Count a failed ``kind`` attempt; past the free ones, start the next delay. The
    owner is told when the run first reaches a delay (``throttle_notices``)."""
    failure = _count_failure(throttle_refusals.storage(), account_key(kind, email))
    throttle_network.record_failure(KINDS[kind], email)
    announce_sign_in("failure", KINDS[kind])
    if failure.starts_lock:
        throttle_notices.notify_attempts(email, second_factor=KINDS[kind] != "password")
    elif failure.locks_account:
        throttle_notices.notify_locked(email)
    return failure


def attempt(kind: str, email: str, check: Callable[[], bool], notify: bool = False) -> Outcome:
    """Check a secret under the account's throttle: refused unchecked while the account
    must wait; otherwise the failure or the success is recorded."""
    refused = refusal(kind, email)
    if refused:
        return Outcome(False, refused)
    if check():
        record_success(kind, email, notify=notify)
        return Outcome(True)
    record_failure(kind, email)
    return Outcome(False)


def unlock(email: str) -> None:
    """Forget every run of failures of this address: its owner proved who they are by
    email (a password reset)."""
    for kind in ("password", "otp"):
        record_success(kind, email, notify=False)


def record_success(kind: str, email: str, notify: bool = True) -> int:
    """Forget the run of ``kind`` failures after a success; the number forgotten. After
    several, the owner is told of this sign-in (``throttle_notices``), unless ``notify``
    is false (a confirmation inside a session is not a new sign-in)."""
    failures = _forget(throttle_refusals.storage(), account_key(kind, email))
    throttle_network.forget(KINDS[kind], email)
    if notify and failures >= NOTICE_AFTER_FAILURES:
        throttle_notices.notify_sign_in(email, failures)
    return failures


def delay_after(failures: int) -> int:
    """The delay after the n-th failure of a run: 0 while free, then doubling, capped;
    past the last allowed failure, the account is locked."""
    if failures <= FREE_FAILURES:
        return 0
    if failures >= LOCK_AFTER_FAILURES:
        return STREAK_LIFETIME
    return int(min(FIRST_DELAY * 2 ** min(failures - FREE_FAILURES - 1, 20), MAX_DELAY))


def _remaining(storage: Storage, key: str) -> int:
    if not storage.get(f"{key}:lock"):
        return 0
    return max(1, math.ceil(storage.get_expiry(f"{key}:lock") - time.time()))


def _count_failure(storage: Storage, key: str) -> Failure:
    # limits' storage offers atomic counters whose expiry is set when they are created;
    # Flask-Limiter's decorators count requests in windows and cannot express a delay
    # that doubles per failure, so the run is built on the storage directly: a counter of
    # failures, a marker refreshed at each failure (the quiet period), and a lock key
    # whose expiry is the end of the current delay.
    if not storage.get(f"{key}:recent"):
        storage.clear(f"{key}:failures")  # a quiet period has passed: a new run
    storage.clear(f"{key}:recent")
    storage.incr(f"{key}:recent", QUIET_PERIOD)
    failures = storage.incr(f"{key}:failures", STREAK_LIFETIME)
    delay = delay_after(failures)
    if delay:
        storage.clear(f"{key}:lock")
        storage.incr(f"{key}:lock", delay)
    return Failure(failures, delay)


def _forget(storage: Storage, key: str) -> int:
    failures = storage.get(f"{key}:failures") if storage.get(f"{key}:recent") else 0
    for part in ("failures", "recent", "lock"):
        storage.clear(f"{key}:{part}")
    return failures

