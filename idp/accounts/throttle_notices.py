"""Mail to the owner of an account about guessing (OWASP ASVS 2.2.3, 2.5.5): someone is
failing to sign in, or someone signed in after failing several times.

Sent only when an account has the address, and only once the response is on its way
(``call_on_close``): the answer to an unknown address and to a known one take the same
time. The mail names the device and the network (its prefix or an approximate place), never
the address."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app, request
from flask_babel import force_locale, get_locale

from idp.accounts.devices import device_name
from idp.accounts.networks import describe_place, ip_prefix
from idp.accounts.notices import mail_locale
from idp.accounts.service import find_user
from idp.extensions import utcnow
from idp.mail import send_mail_later
from idp.urls import issuer_url


def notify_attempts(email: str, second_factor: bool = False) -> None:
    """Tell the owner that someone keeps failing to sign in to their account: if it is
    them, wait; if not, nothing to do; after a right password, change it."""
    user = find_user(email)
    if user is None:
        return
    send_mail_later(user.email, "sign_in_attempts", mail_locale(user),
                        name=user.given_name, account=issuer_url("accounts.profile"),
                    second_factor=second_factor)


def notify_locked(email: str) -> None:
    """Tell the owner that their account is locked after too many failures, and that a
    password reset by email opens it again."""
    user = find_user(email)
    if user is None:
        return
    send_mail_later(user.email, "account_locked", mail_locale(user), name=user.given_name,
                    forgot=issuer_url("recovery.forgot"))


def notify_sign_in(email: str, failures: int) -> None:
    """Tell the owner of a sign-in that followed ``failures`` failed attempts: when,
    on which device, from which network (its prefix only)."""
    user = find_user(email)
    if user is None:
        return
    locale = mail_locale(user) or str(get_locale())
    with force_locale(locale):
        device = device_name(request.user_agent.string)
        place = describe_place(ip_prefix(request.remote_addr))
    send_mail_later(
        user.email, "sign_in_after_failures", locale, name=user.given_name,
        account=issuer_url("accounts.profile"),
        failures=failures, when=local_time(), device=device,
        place=place,
    )


def local_time() -> str:
    """Now, in the deployment's time zone, with the zone named: "2030-05-06 11:00 CEST"."""
    zone = ZoneInfo(current_app.extensions["idp.settings"].timezone)
    return utcnow().astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
