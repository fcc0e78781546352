"""Human help on every page, the signed-in menu, and the pages every public service
owes its users: help, legal notice, privacy notice, accessibility statement (RGAA 4.1).

Who runs the service and how to reach a human come from the operator's settings
(IDP_OPERATOR_NAME, IDP_HELP_PHONE...). Development shows demo values; production
without any way to reach a human starts, but warns at every start: a missing phone
number must not stop a running service at upgrade, and the operator sees it."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from idp.settings import Settings

log = logging.getLogger(__name__)
bp = Blueprint("help", __name__)

# The automated checks' results, written and checked by tests/browser_real/test_audit.py:
# the accessibility statement shows them, so they cannot go stale unnoticed.
AUDIT_FILE = Path(__file__).with_name("data") / "accessibility_audit.json"
# A fictional number: ARCEP keeps 01 99 00 00 00 to 01 99 99 99 99 for works of fiction.
DEMO = {"operator_name": "Mobility ID (démo)", "help_phone": "01 99 00 12 34",
        "help_email": "aide@mobility-id.example"}
DEMO_HOURS = _l("Monday to Friday, 9 am to 5 pm")

# The signed-in menu: (endpoint, label, endpoints of the same section).
MENU = (
    ("platforms.index", _l("My platforms"), ("platforms.",)),
    ("accounts.profile", _l("My details"), ()),
    ("accounts.mobility_details", _l("My travel details"), ("accounts.mobility_topic",)),
    ("help.security", _l("Security"),
     ("credentials.", "email.change", "mfa.", "sessions.", "reauth.")),
    ("helpers.index", _l("People who help you"), ("helpers.",)),
    ("help.help_page", _l("Help"), ()),
    ("accounts.logout", _l("Log out"), ()),
)


@dataclass(frozen=True)
class Contact:
    """How a person reaches a human at the operator; any part may be missing."""

    operator: str
    address: str
    phone: str
    email: str
    hours: str | LazyString
    url: str
    demo: bool

    @property
    def phone_uri(self) -> str:
        """The ``tel:`` URI (RFC 3966): a French national number becomes global (+33)."""
        digits = "".join(c for c in self.phone if c.isdigit() or c == "+")
        if digits.startswith("0") and len(digits) == 10:
            digits = "+33" + digits[1:]
        return f"tel:{digits}"

    @property
    def reachable(self) -> bool:
        return bool(self.phone or self.email or self.url)


def contact_of(settings: Settings) -> Contact:
    """The operator's help, with demo values in development only."""
    values = {name: getattr(settings, name) for name in (
        "operator_name", "operator_address", "help_phone", "help_email", "help_hours",
        "help_url")}
    demo = settings.env == "development" and not any(values.values())
    if demo:
        values.update(DEMO)
    return Contact(operator=values["operator_name"] or "Mobility ID",
                   address=values["operator_address"], phone=values["help_phone"],
                   email=values["help_email"],
                   hours=values["help_hours"] or (DEMO_HOURS if demo else ""),
                   url=values["help_url"], demo=demo)


def current_contact() -> Contact:
    return contact_of(current_app.extensions["idp.settings"])


def menu_items() -> list[dict[str, Any]]:
    """The menu for a signed-in page, each entry marked current (aria-current) when it is
    the page shown ("page") or the section it belongs to ("true")."""
    endpoint = request.endpoint or ""
    items = []
    for target, label, section in MENU:
        current = "page" if endpoint == target else (
            "true" if endpoint.startswith(section) and section else None)
        items.append({"url": url_for(target), "label": label, "current": current})
    return items


def signed_in() -> bool:
    """Whether this request already found a signed-in session. Read from what the view
    loaded, never queried here: an error page (the database down) must still render."""
    login = g.get("idp_login")
    return login is not None


def error_platform() -> Any:
    """The registered platform an error page is about, named by the request's client_id,
    so that "contact the platform" can say how; None when unknown."""
    from idp.oauth.server import query_client

    client_id = request.args.get("client_id", "")
    if not client_id or len(client_id) > 200:
        return None
    try:
        return query_client(client_id)
    except Exception:  # the error page must render even when the database cannot answer
        log.warning("error page: platform lookup failed")
        return None


def inject() -> dict[str, Any]:
    return {"help_contact": current_contact(),
            "menu_items": menu_items() if signed_in() else [],
            "error_platform": error_platform}


def audit_results() -> dict[str, Any]:
    """The automated checks' last results, as the tests wrote them."""
    results: dict[str, Any] = json.loads(AUDIT_FILE.read_text(encoding="utf-8"))
    return results


@bp.route("/help")
def help_page() -> ResponseReturnValue:
    return page("help/help.html")


@bp.route("/legal")
def legal() -> ResponseReturnValue:
    return page("help/legal.html")


@bp.route("/privacy")
def privacy() -> ResponseReturnValue:
    return page("help/privacy.html")


@bp.route("/accessibility")
def accessibility() -> ResponseReturnValue:
    return page("help/accessibility.html", audit=audit_results())


@bp.route("/account/security")
def security() -> ResponseReturnValue:
    from idp.accounts import mfa
    from idp.accounts.login import current_user

    user = current_user()
    if user is None:
        return redirect(url_for("accounts.login", next=request.path))
    return render_template("help/security.html", user=user, two_step=mfa.check_enabled(user))


def page(template: str, **context: Any) -> ResponseReturnValue:
    """A public page; it loads the session so that a signed-in reader keeps the menu."""
    from idp.accounts.login import current_user

    return render_template(template, user=current_user(), **context)


def init_app(app: Flask) -> None:
    settings: Settings = app.extensions["idp.settings"]
    if settings.is_production and not contact_of(settings).reachable:
        log.warning("no way to reach a human: set IDP_HELP_PHONE, IDP_HELP_EMAIL or "
                    "IDP_HELP_URL (shown on every page)")
    app.register_blueprint(bp)
    app.context_processor(inject)
