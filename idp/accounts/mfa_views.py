"""Pages where a traveller sets up, reviews and turns off two-step verification. Each one
needs a recent authentication (``recent_login_required``): whoever finds a signed-in
computer cannot add their own authenticator, or remove the traveller's."""

from __future__ import annotations

import segno
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from idp.accounts import events, mfa
from idp.accounts.forms import ConfirmForm
from idp.accounts.login import ACR_MFA, require_login, step_up
from idp.accounts.mfa_forms import CodeForm
from idp.accounts.reauth import recent_login_required
from idp.accounts.redirects import safe_next

bp = Blueprint("mfa", __name__)
# What a session shows after a code from the app: RFC 8176 methods, with "mfa" since the
# password came first.
AMR_OTP = ["pwd", "otp", "mfa"]


@bp.route("/account/two-step", methods=["GET", "POST"])
@recent_login_required
def enrol() -> ResponseReturnValue:
    """Set up an authenticator app: scan the QR code (or type the key), then type a code
    to prove it works. Once on, the page says so and offers the other actions."""
    user = require_login().user
    if mfa.check_enabled(user):
        return render_template("accounts/mfa_manage.html", user=user,
                               remaining=mfa.count_recovery_codes(user))
    form = CodeForm()
    if form.validate_on_submit():
        codes = mfa.confirm_totp(user, form.code.data)
        if codes is not None:
            return show_enabled(codes)
        form.code.errors.append(str(_l(
            "This code is not right. Check that the app shows Mobility ID and type the "
            "code it shows now.")))
    secret = mfa.save_pending_secret(user)
    return render_template(
        "accounts/mfa_enrol.html", form=form, user=user, key=group(secret),
        qr=render_qr(mfa.generate_provisioning_uri(user, secret)),
    ), 400 if form.errors else 200


def show_enabled(codes: list[str]) -> ResponseReturnValue:
    """Two-step verification is on. The code just typed proves the second factor, so
    the current session counts as such from now on: a platform waiting for it at the
    end of ``next`` needs no other code (the same one would be refused as a replay)."""
    step_up(require_login(), AMR_OTP, ACR_MFA)
    flash(_l("Two-step verification is on."), "success")
    return render_template("accounts/mfa_recovery_codes.html", codes=codes,
                           next=safe_next(request.args.get("next")))


@bp.route("/account/two-step/recovery-codes", methods=["GET", "POST"])
@recent_login_required
def regenerate() -> ResponseReturnValue:
    """Make new recovery codes; the old ones stop working."""
    user = require_login().user
    if not mfa.check_enabled(user):
        return redirect(url_for("mfa.enrol"))
    form = ConfirmForm()
    if form.validate_on_submit():
        events.announce(user, events.RECOVERY_CODES_RENEWED)
        codes = mfa.save_recovery_codes(user)  # commits the event with the codes
        return render_template("accounts/mfa_recovery_codes.html", codes=codes, next=None)
    return render_template("accounts/mfa_regenerate.html", form=form)


@bp.route("/account/two-step/disable", methods=["GET", "POST"])
@recent_login_required
def disable() -> ResponseReturnValue:
    """Turn two-step verification off, after a confirmation."""
    user = require_login().user
    if not mfa.check_enabled(user):
        return redirect(url_for("mfa.enrol"))
    form = ConfirmForm()
    if form.validate_on_submit():
        mfa.delete_totp(user)
        flash(_l("Two-step verification is off. Logging in now needs only your password."),
              "success")
        return redirect(url_for("accounts.profile"))
    return render_template("accounts/mfa_disable.html", form=form)


def group(secret: str) -> str:
    """The key in groups of four characters, easier to copy by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def render_qr(uri: str) -> Markup:
    """The QR code as inline SVG: no request to another site, no image library, and
    allowed by our content security policy (no inline style)."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=5, omitsize=True, title=str(_l("QR code to scan with your authenticator app")),
        svgclass="qr", light="#fff", dark="#000")
    # segno writes only its own markup and escapes the title: safe to insert as is.
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S704
