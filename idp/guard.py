"""Input the provider never stores nor looks up: text PostgreSQL cannot hold (a NUL
character, a lone UTF-16 surrogate that UTF-8 cannot encode) and JSON nested so deeply
that parsing it exhausts the stack.

Two layers, so that no such value reaches a query as a 500 (PostgreSQL raises DataError
where SQLite would quietly answer):

- a request guard (``before_request``) refuses them in the path, the query, the form,
  the Authorization header and JSON bodies with 400 ``invalid_request``;
- a safety net on every database engine refuses them in query parameters, for values
  that arrive inside other values (the ``sub`` of a signed client assertion, an
  ``id_token_hint``, a percent-encoded client id in HTTP Basic).

Both raise ``UnstorableInput``, which ``idp.errors`` turns into a 400."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from flask import Flask, request
from flask.json.provider import DefaultJSONProvider


class UnstorableInput(ValueError):
    """A value we refuse to store or look up; the message names the kind, never the value."""


def is_storable(text: str) -> bool:
    """False for a NUL (PostgreSQL text cannot hold it) or a lone surrogate (not UTF-8)."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_text(values: Iterable[Any]) -> None:
    """Raise ``UnstorableInput`` if one of ``values`` is text we cannot store."""
    for value in values:
        if isinstance(value, str) and not is_storable(value):
            raise UnstorableInput("A value holds a character that is not allowed.")


def validate_json(document: Any) -> None:
    """Every string and member name of a parsed JSON document, walked without recursion
    (a document parsed near the recursion limit must not exhaust it here)."""
    pending = [document]
    while pending:
        item = pending.pop()
        if isinstance(item, Mapping):
            validate_text(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        else:
            validate_text((item,))


def validate_request() -> None:
    """``before_request``: the path, query, form, Authorization header and JSON body."""
    validate_text((request.path, request.headers.get("Authorization", "")))
    # Without a Content-Type the form is empty (werkzeug parses none): not built for it
    # (a GET's form cost 2 % of discovery's CPU).
    forms = (request.args, request.form) if request.environ.get("CONTENT_TYPE") else (
        request.args,)
    for multi in forms:
        for key, value in multi.items(multi=True):
            validate_text((key, value))
    if request.is_json:
        validate_json(request.get_json(silent=True))


def refuse_unstorable_parameters(conn: Any, cursor: Any, statement: str, parameters: Any,
                                 context: Any, executemany: bool) -> None:
    """``before_cursor_execute``: the last line before the database. Parameters come as
    a mapping, a sequence, or (executemany, batched inserts) a sequence of either. About
    a microsecond for ten parameters: text is scanned for NUL, encoded only if not ASCII."""
    values = parameters.values() if isinstance(parameters, dict) else parameters or ()
    for value in values:
        if value.__class__ is str:
            if "\x00" in value or not (value.isascii() or is_storable(value)):
                raise UnstorableInput("A value holds a character that is not allowed.")
        elif isinstance(value, (list, tuple, dict)):  # rows, or an array parameter
            refuse_unstorable_parameters(conn, cursor, statement, value, context, False)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that a document nested too deeply to parse is invalid JSON
    (a ValueError, which ``get_json`` answers with 400) instead of a RecursionError."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("The JSON document is nested too deeply.") from None


def init_app(app: Flask) -> None:
    """Call after the database extension: it listens on each of its engines."""
    app.json = JSONProvider(app)
    app.before_request(validate_request)
    from idp.extensions import db

    with app.app_context():
        for engine in db.engines.values():
            sa.event.listen(engine, "before_cursor_execute", refuse_unstorable_parameters)
