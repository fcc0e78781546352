"""Consent decisions as Prometheus metrics (``idp.metrics`` serves them): each consent
record written (given, extended, narrowed, withdrawn, expired) counts for its platform
once its transaction commits. Counted from the ORM's insert event, so that every path
that writes a record (the consent screen, the account page, the API) counts alike."""

from __future__ import annotations

from typing import Any

from flask import Flask
from prometheus_client import Counter
from sqlalchemy import event
from sqlalchemy.orm import Mapper, object_session

from consent.models import ConsentRecord
from idp.metrics import count_on_commit

CONSENTS = Counter("idp_consents", "Consent records written, by event (given, extended, "
                   "narrowed, withdrawn, expired) and platform (client_id).",
                   ["event", "client_id"])


def count_record(mapper: Mapper[Any], connection: Any, record: ConsentRecord) -> None:
    count_on_commit(CONSENTS.labels(record.event_type, record.client_id),
                    object_session(record))


def init_app(app: Flask) -> None:
    """Listen once per process: the ORM's events belong to the model, not to an app."""
    if not event.contains(ConsentRecord, "after_insert", count_record):
        event.listen(ConsentRecord, "after_insert", count_record)
