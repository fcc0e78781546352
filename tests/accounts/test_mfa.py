"""Two-step verification: setting up an authenticator app, logging in with its codes or
a recovery code, and the changes that need a fresh confirmation (RFC 6238, RFC 8176)."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from time_machine import TimeMachineFixture

from idp.accounts.login import ACR_MFA, ACR_PASSWORD
from idp.accounts.mfa import RecoveryCode, TotpCredential, decrypt_secret
from idp.accounts.models import BrowserSession
from idp.extensions import db
from tests.browser import Browser
from tests.factories import Traveller
from tests.totp import code_at, enrol, read_key, start_login

pytestmark = pytest.mark.usefixtures("frozen", "in_english")


@pytest.fixture
def enrolled(logged_in: Browser, frozen: TimeMachineFixture) -> tuple[str, list[str]]:
    """A traveller with two-step verification on, then logged out; the clock is moved
    three steps on, so no code of the drift window is the one typed at enrolment."""
    key, codes = enrol(logged_in)
    logged_in.get("/logout")
    logged_in.submit("/logout", {})
    frozen.shift(90)
    return key, codes


def sessions() -> list[BrowserSession]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(BrowserSession)))


def credential() -> TotpCredential:
    db.session.expire_all()
    row = db.session.scalar(db.select(TotpCredential))
    assert row is not None
    return row


def test_the_enrolment_page_shows_an_inline_qr_code_and_the_key(
        logged_in: Browser, user: Traveller) -> None:
    page = logged_in.get("/account/two-step")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<svg role="img" viewBox=' in html and "<title>" in html
    assert "<img" not in html and "otpauth://" not in html
    key = read_key(html)
    assert len(key) == 32
    assert 'id="totp-key">' + " ".join(key[i:i + 4] for i in range(0, 32, 4)) in html
    assert credential().confirmed_at is None
    # A reload shows the same pending key: an app already scanned stays right.
    assert read_key(logged_in.get("/account/two-step").get_data(as_text=True)) == key


def test_the_secret_is_not_stored_in_clear(logged_in: Browser, user: Traveller) -> None:
    key = read_key(logged_in.get("/account/two-step").get_data(as_text=True))
    row = credential()
    assert key.encode() not in row.secret_encrypted
    assert decrypt_secret(row.secret_encrypted, user.model.id) == key
    with pytest.raises(InvalidTag):  # bound to its owner: another id cannot decrypt it
        decrypt_secret(row.secret_encrypted, user.model.id + 1)


def test_a_wrong_code_is_refused_and_the_field_emptied(logged_in: Browser) -> None:
    # A one-time code is worth nothing to retype: it comes back empty (issue 12, item 3).
    logged_in.get("/account/two-step")
    page = logged_in.submit("/account/two-step", {"code": "000000"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert 'id="code-error"' in html and "000000" not in html
    assert credential().confirmed_at is None


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12345678901234567890",
                                  "<script>", "１２３４５６"])
def test_malformed_codes_get_a_friendly_error(logged_in: Browser, code: str) -> None:
    logged_in.get("/account/two-step")
    page = logged_in.submit("/account/two-step", {"code": code})
    assert page.status_code == 400
    assert 'id="code-error"' in page.get_data(as_text=True)


def test_a_valid_code_turns_it_on_and_shows_ten_recovery_codes_once(
        logged_in: Browser, user: Traveller) -> None:
    key, codes = enrol(logged_in)
    assert credential().confirmed_at is not None
    assert len(set(codes)) == 10
    stored = set(db.session.scalars(db.select(RecoveryCode.code_hash)))
    assert len(stored) == 10 and not stored & {c.replace("-", "") for c in codes}
    page = logged_in.get("/account/two-step").get_data(as_text=True)
    assert "Two-step verification is on" in page
    assert "10 recovery codes left" in page
    assert not any(code in page for code in codes)


def test_a_code_with_spaces_is_accepted(logged_in: Browser) -> None:
    key = read_key(logged_in.get("/account/two-step").get_data(as_text=True))
    code = code_at(key)
    page = logged_in.submit("/account/two-step", {"code": f" {code[:3]} {code[3:]} "})
    assert page.status_code == 200 and credential().confirmed_at is not None


def test_the_profile_links_to_two_step_verification(logged_in: Browser) -> None:
    assert 'href="/account/two-step"' in logged_in.get("/account").get_data(as_text=True)


def test_login_needs_the_code_after_the_password(
        browser: Browser, user: Traveller, enrolled: tuple[str, list[str]]) -> None:
    key, _ = enrolled
    start_login(browser, user.email, user.password)
    assert sessions() == []
    assert browser.get("/account").location.startswith("/login")
    page = browser.get("/login/code")
    assert "Use a recovery code instead" in page.get_data(as_text=True)
    response = browser.submit("/login/code", {"code": code_at(key)})
    assert response.status_code == 302 and response.location == "/account"
    [login] = sessions()
    assert login.amr == ["pwd", "otp", "mfa"] and login.acr == ACR_MFA
    assert browser.get("/account").status_code == 200


def test_a_code_is_accepted_once_only(
        browser: Browser, user: Traveller, logged_in: Browser,
        frozen: TimeMachineFixture) -> None:
    key, _ = enrol(logged_in)
    used = code_at(key)  # the code just typed to turn it on
    start_login(browser, user.email, user.password)
    page = browser.submit("/login/code", {"code": used})
    assert page.status_code == 400 and 'id="code-error"' in page.get_data(as_text=True)
    frozen.shift(30)
    assert browser.submit("/login/code", {"code": code_at(key)}).status_code == 302
    browser.get("/logout")
    browser.submit("/logout", {})
    start_login(browser, user.email, user.password)
    assert browser.submit("/login/code", {"code": code_at(key)}).status_code == 400


@pytest.mark.parametrize(("drift", "accepted"), [
    (-60, False), (-30, True), (0, True), (30, True), (60, False),
])
def test_one_step_of_clock_drift_is_accepted_two_are_not(
        browser: Browser, user: Traveller, enrolled: tuple[str, list[str]],
        drift: int, accepted: bool) -> None:
    key, _ = enrolled
    start_login(browser, user.email, user.password)
    response = browser.submit("/login/code", {"code": code_at(key, drift)})
    assert (response.status_code == 302) is accepted
    assert bool(sessions()) is accepted


def test_a_recovery_code_works_once(
        browser: Browser, user: Traveller, enrolled: tuple[str, list[str]]) -> None:
    _, codes = enrolled
    start_login(browser, user.email, user.password)
    browser.get("/login/recovery")
    response = browser.submit("/login/recovery", {"recovery_code": codes[3].upper()})
    assert response.status_code == 302
    [login] = sessions()
    assert login.amr == ["pwd", "mfa"] and login.acr == ACR_MFA
    assert "9 left" in browser.get(response.location).get_data(as_text=True)
    browser.submit("/logout", {}, html=browser.get("/logout").get_data(as_text=True))
    start_login(browser, user.email, user.password)
    browser.get("/login/recovery")
    page = browser.submit("/login/recovery", {"recovery_code": codes[3]})
    assert page.status_code == 400
    assert 'id="recovery_code-error"' in page.get_data(as_text=True)
    assert sessions() == []


def test_the_pending_login_expires_after_five_minutes(
        browser: Browser, user: Traveller, enrolled: tuple[str, list[str]],
        frozen: TimeMachineFixture) -> None:
    key, _ = enrolled
    start_login(browser, user.email, user.password)
    frozen.shift(301)
    response = browser.submit("/login/code", {"code": code_at(key)})
    assert response.status_code == 302 and response.location.startswith("/login")
    assert sessions() == []
    assert browser.get("/login/code").location.startswith("/login")


def test_the_code_page_without_a_password_first_sends_to_login(browser: Browser) -> None:
    for url in ("/login/code", "/login/recovery"):
        assert browser.get(url).location.startswith("/login")


def test_login_with_the_code_goes_to_the_page_asked(
        browser: Browser, user: Traveller, enrolled: tuple[str, list[str]]) -> None:
    key, _ = enrolled
    start_login(browser, user.email, user.password, url="/login?next=/account/mobility")
    assert browser.submit("/login/code", {"code": code_at(key)}).location == "/account/mobility"


def test_a_plain_login_still_gives_the_password_only(browser: Browser, user: Traveller) -> None:
    assert browser.login(user.email, user.password).status_code == 302
    [login] = sessions()
    assert login.amr == ["pwd"] and login.acr == ACR_PASSWORD


@pytest.mark.parametrize("path", ["/account/two-step/disable",
                                  "/account/two-step/recovery-codes"])
def test_changes_need_a_recent_confirmation_with_a_code(
        logged_in: Browser, user: Traveller, frozen: TimeMachineFixture, path: str) -> None:
    key, _ = enrol(logged_in)
    frozen.shift(301)
    response = logged_in.get(path)
    assert response.location == f"/account/confirm?next={path}"
    confirm = logged_in.get(response.location)
    assert 'name="code"' in confirm.get_data(as_text=True)
    page = logged_in.submit(response.location, {"password": user.password})
    assert page.status_code == 400 and 'id="code-error"' in page.get_data(as_text=True)
    page = logged_in.submit(response.location, {"password": user.password,
                                                "code": code_at(key)})
    assert page.location == path
    assert logged_in.get(path).status_code == 200


def test_the_confirmation_accepts_a_recovery_code(
        logged_in: Browser, user: Traveller, frozen: TimeMachineFixture) -> None:
    _, codes = enrol(logged_in)
    frozen.shift(301)
    logged_in.get("/account/confirm")
    page = logged_in.submit("/account/confirm", {"password": user.password, "code": codes[0]})
    assert page.status_code == 302


def test_a_wrong_password_does_not_use_up_the_code(
        logged_in: Browser, user: Traveller, frozen: TimeMachineFixture) -> None:
    key, _ = enrol(logged_in)
    frozen.shift(301)
    logged_in.get("/account/confirm")
    code = code_at(key)
    page = logged_in.submit("/account/confirm", {"password": "not my password", "code": code})
    assert page.status_code == 400
    page = logged_in.submit("/account/confirm", {"password": user.password, "code": code})
    assert page.status_code == 302


def test_turning_it_off_forgets_the_app_and_the_codes(
        logged_in: Browser, user: Traveller) -> None:
    enrol(logged_in)
    logged_in.get("/account/two-step/disable")
    response = logged_in.submit("/account/two-step/disable", {})
    assert response.location == "/account"
    db.session.expire_all()
    assert db.session.scalar(db.select(TotpCredential)) is None
    assert db.session.scalar(db.select(RecoveryCode)) is None
    logged_in.submit("/logout", {}, html=logged_in.get("/logout").get_data(as_text=True))
    assert logged_in.login(user.email, user.password).location == "/account"


def test_new_recovery_codes_replace_the_old_ones(
        browser: Browser, user: Traveller, logged_in: Browser,
        frozen: TimeMachineFixture) -> None:
    _, old = enrol(logged_in)
    logged_in.get("/account/two-step/recovery-codes")
    page = logged_in.submit("/account/two-step/recovery-codes", {})
    new = page.get_data(as_text=True)
    assert page.status_code == 200 and not any(code in new for code in old)
    start_login(browser, user.email, user.password)
    browser.get("/login/recovery")
    assert browser.submit("/login/recovery", {"recovery_code": old[0]}).status_code == 400


def test_changes_need_a_login(browser: Browser) -> None:
    for path in ("/account/two-step", "/account/two-step/disable"):
        assert browser.get(path).location.startswith("/login?next=")


def test_the_code_page_speaks_french(
        browser: Browser, user: Traveller, enrolled: tuple[str, list[str]]) -> None:
    start_login(browser, user.email, user.password)
    page = browser.get("/login/code", headers={"Accept-Language": "fr"})
    assert page.status_code == 200 and '<html lang="fr">' in page.get_data(as_text=True)
