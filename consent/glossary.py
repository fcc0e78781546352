"""What each key of the data download means, in the traveller's language (GDPR Art. 12(1):
"concise, transparent, intelligible"). The JSON keeps stable English keys for machines;
this glossary explains every one of them on the readable page. A test walks a full
export and fails on a key missing here."""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

WHEN = _l("When it happened. The file gives times in UTC (universal time).")

GLOSSARY: dict[str, LazyString] = {
    # The file's parts
    "exported_at": _l("When you downloaded this file."),
    "profile": _l("Your details, as you gave them."),
    "consents": _l("Every agreement you gave, changed or ended, one entry per decision."),
    "sessions": _l("The devices signed in to your account."),
    "two_step_verification": _l("Whether two-step verification is on."),
    "tokens": _l("The access passes we gave to platforms."),
    "history": _l("What happened on your account, oldest first."),
    "mandates": _l("The advisors you allowed to help you, and what each one may do."),
    "assisted_actions": _l("What advisors did for you, oldest first."),
    # Your details
    "subject": _l("Your account number at Mobility ID. It never changes. In the history, "
                   "a coded form of it that says nothing without our key."),
    "email": _l("Your email address."),
    "email_verified": _l("Whether you confirmed your email address."),
    "given_name": _l("Your first name."),
    "family_name": _l("Your last name."),
    "nickname": _l("The name other travellers see."),
    "picture": _l("The address of your photo."),
    "gender": _l("Your gender, if you gave it."),
    "birthdate": _l("Your date of birth."),
    "locale": _l("Your language."),
    "phone_number": _l("Your phone number."),
    "phone_number_verified": _l("Whether you confirmed your phone number."),
    "street_address": _l("Your street and number."),
    "postal_code": _l("Your postcode."),
    "locality": _l("Your town."),
    "country": _l("Your country."),
    "mobility": _l("Your travel details (car, pass, needs), as on the travel details page."),
    "created_at": _l("When it was created."),
    "updated_at": _l("When it last changed."),
    # An agreement
    "record_id": _l("The number of this agreement record."),
    "schema_version": _l("The version of the record format."),
    "event_type": _l("What happened: given, extended, narrowed, withdrawn or expired."),
    "event_time": WHEN,
    "previous_record_id": _l("The record this one follows, if any."),
    "sub": _l("The number the platform knows you by. It is not your name."),
    "client_id": _l("The platform's number at Mobility ID."),
    "controller": _l("The platform that receives your data: its name and contact."),
    "name": _l("The platform's name."),
    "contacts": _l("How to contact the platform."),
    "client_uri": _l("The platform's website."),
    "policy_uri": _l("The platform's privacy policy."),
    "tos_uri": _l("The platform's terms of use."),
    "scopes_granted": _l("What you agreed to share."),
    "claims_granted": _l("Each detail you agreed to share."),
    "scopes_refused": _l("What you did not agree to share."),
    "purposes": _l("Why the platform asked, as shown to you on the screen."),
    "id": _l("A number for this entry."),
    "version": _l("The version of the text you were shown."),
    "sha256": _l("A fingerprint of the exact text you were shown."),
    "claims": _l("The details asked one by one."),
    "essential": _l("The details the platform said it needs."),
    "language": _l("The language of the screen you saw."),
    "collection_method": _l("How you agreed: on the web, or with an advisor's help."),
    "helper_id": _l("The advisor who helped you, if one did."),
    "mandate_id": _l("The mandate under which the advisor helped you, if one did."),
    "consent_type": _l("Regular, or explicit for health data."),
    "lawful_basis": _l("The legal ground: your consent."),
    "acr": _l("How strong your sign-in was."),
    "amr": _l("How you signed in: password, code, and so on."),
    "methods": _l("How you signed in: password, code, and so on."),
    "auth_time": _l("When you signed in before agreeing."),
    "valid_until": _l("When the agreement ends by itself."),
    "jurisdiction": _l("The country whose law applies."),
    "withdrawal_method": _l("Where you can withdraw your agreement."),
    # A platform acting for you on another platform (issue 14)
    "delegations": _l("What this platform may do for you on other platforms."),
    "resource": _l("The address of the other platform's service."),
    "resource_client_id": _l("The other platform's number at Mobility ID."),
    "resource_platform": _l("The other platform's name."),
    "resource_sub": _l("The number the other platform knows you by."),
    "offline_access": _l("Whether it may go on when you are not there."),
    # A session
    "last_seen_at": _l("When this device was last active."),
    "expires_at": _l("When it stops working by itself."),
    "device": _l("The browser and device, as it describes itself."),
    "network": _l("An approximate network address, never the full address."),
    # Two-step verification
    "enabled": _l("Yes (true) or no (false)."),
    "enabled_at": _l("When you turned it on."),
    "recovery_codes_left": _l("How many recovery codes you can still use."),
    # An access pass
    "platform": _l("The platform's number at Mobility ID."),
    "scope": _l("What the pass lets the platform read."),
    "issued_at": _l("When the pass was given."),
    "revoked_at": _l("When the pass was cancelled, if it was."),
    "refreshable": _l("Whether the platform can renew the pass without you."),
    # A history entry
    "occurred_at": WHEN,
    "data": _l("Details of the event."),
    "prev_hash": _l("The seal of the event before, so that nobody can remove one."),
    "hash": _l("The seal of this event, so that nobody can change it."),
    "scopes": _l("What you agreed to share."),
    "refused": _l("What you did not agree to share."),
    "message_id": _l("The number of the message sent to the platform."),
    "reason": _l("Why it happened."),
    "outcome": _l("How it ended."),
    "status": _l("The platform's answer code."),
    "attempt": _l("Which try it was."),
    "at": WHEN,
    "sessions_ended": _l("How many devices were signed out."),
    "tokens_revoked": _l("How many access passes were cancelled."),
    "removed": _l("Whether the phone number was removed."),
    "by": _l("Who did it."),
    "count": _l("How many."),
    # Help from an advisor (a mandate, an assisted act)
    "advisor_id": _l("The advisor's number at Mobility ID. It is not their name."),
    "advisor": _l("The advisor's name."),
    "centre": _l("Where the advisor works."),
    "actions": _l("What the advisor, or the platform acting for you, may do."),
    "platforms": _l("The platforms the advisor may give your agreement to."),
    "method": _l("How the advisor helped you: in person or on the phone."),
    "confirmation": _l("How you agreed: with a code sent by text message, or on paper."),
    "months": _l("How many months the help lasts."),
    "confirmed_at": _l("When you agreed."),
    "stopped_at": _l("When the help was stopped, if it was."),
    "stopped_by": _l("Who stopped it: you, the advisor or the service."),
}

# Keys under which the values' own keys are not field names: the travel details are
# keyed by the claims of shared/SCOPES.md, explained on the travel details page.
OPAQUE = ("mobility",)
