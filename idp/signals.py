"""Events that leave ``idp``. Packages built on it (``consent`` writes the audit log)
connect to these signals; ``idp`` never imports them (shared/STYLE.md).

``backchannel_attempted``
    Sent once for every attempt to deliver a back-channel logout token (OpenID Connect
    Back-Channel Logout 1.0, 2.5), with the app as sender and these keyword arguments:

    - ``message_id`` (int): the outbox message, stable across its attempts;
    - ``client_id`` (str): the platform told;
    - ``subject`` (str | None): the traveller's ``User.subject``, the identifier the
      audit log keys on (not the ``sub`` the platform sees, which may be pairwise);
    - ``reason`` (str): why the platform is told: ``"logout"``, ``"consent_revoked"``,
      ``"account_deleted"``, as the caller of ``notify_logout`` said;
    - ``outcome`` (str): ``"delivered"``, ``"retrying"`` (another attempt is scheduled)
      or ``"dead"`` (the last attempt failed; no more will be made);
    - ``status`` (int | None): the platform's HTTP status, None when no answer came;
    - ``attempt`` (int): 1 for the first attempt;
    - ``at`` (datetime): when the attempt was made, UTC.

    It is sent inside the transaction that records the attempt, before its commit: a
    listener adds its rows to ``db.session`` and does not commit; they are committed
    together with the outcome, or not at all. The logout token itself is never passed.

``security_event_attempted``
    Sent once for every attempt to push a Security Event Token to a platform (RFC 8935:
    a delegation stopped, ``idp.oauth.events``), with the same keyword arguments and the
    same transaction as ``backchannel_attempted``; ``reason`` is ``"delegation_stopped"``.

``account_changed``
    Sent when the way a traveller signs in, or can be reached, changes, with the app as
    sender and these keyword arguments:

    - ``user`` (User): the traveller;
    - ``event`` (str): one of ``idp.accounts.events.EVENTS`` (``"password_changed"``,
      ``"two_step_enabled"``...);
    - ``data`` (dict): a few plain, non-personal values (a reason, a count).

    Sent before the change is committed: a listener's rows are committed with it.

``sign_in_attempted``
    Sent at each step of a sign-in, with the app as sender and these keyword arguments
    (``idp.metrics`` counts them; no traveller is named):

    - ``outcome`` (str): ``"success"`` (a browser session starts), ``"second_step"`` (the
      password was right, a code is asked next), ``"failure"`` (a secret was wrong) or
      ``"throttled"`` (refused unchecked: the account or the network must wait);
    - ``factor`` (str): ``"password"`` or ``"second-factor"``, the secret concerned (for a
      success, the strongest one passed).

    Failures and refusals are those of every form that checks a secret under the
    throttle (``idp.accounts.throttle.SIGN_IN_ENDPOINTS``): a confirmation of the
    password inside a session counts as well as a login.

``assisted``
    Sent when a mandate is granted, revoked or lapses, and when an advisor acts for a
    traveller under one (issue 12, assisted access), with the app as sender and these
    keyword arguments:

    - ``user`` (User): the traveller;
    - ``event`` (str): one of ``idp.advisors.events.EVENTS`` (``"mandate:granted"``...),
      the audit event type that ``consent`` records;
    - ``assistance`` (Assistance): who acted (pseudonymously), under which mandate, how;
    - ``data`` (dict): a few plain, non-personal values (the actions allowed, who revoked).

    Sent before the change is committed: a listener's rows are committed with it.
"""

from __future__ import annotations

from blinker import Namespace

signals = Namespace()

backchannel_attempted = signals.signal("backchannel-attempted")
security_event_attempted = signals.signal("security-event-attempted")
account_changed = signals.signal("account-changed")
sign_in_attempted = signals.signal("sign-in-attempted")
assisted = signals.signal("assisted")
