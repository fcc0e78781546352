"""Phone numbers saved before the SMS route, as typed, are rewritten in E.164 by the
migration, so that recovery by SMS finds them; what cannot be a number stays as typed."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, upgrade

from idp.extensions import db
from tests.factories import make_user


def test_numbers_saved_as_typed_are_found_in_e164_after_the_upgrade(app: Flask) -> None:
    typed = {"a": "06 12 34 56 78", "b": "+33 7 11 22 33 44", "c": "call me maybe"}
    ids = {}
    for key, number in typed.items():
        ids[key] = make_user(phone_number=number).model.id
    db.session.remove()

    downgrade(revision="0015_code_nonce")
    with db.engine.begin() as connection:  # as the old code had left them
        for key, number in typed.items():
            connection.execute(sa.text('UPDATE "user" SET phone_number = :n WHERE id = :i'),
                               {"n": number, "i": ids[key]})
    upgrade(revision="heads")

    with db.engine.connect() as connection:
        stored = {key: connection.scalar(sa.text(
            'SELECT phone_number FROM "user" WHERE id = :i'), {"i": ids[key]}) for key in ids}
    assert stored == {"a": "+33612345678", "b": "+33711223344", "c": "call me maybe"}
