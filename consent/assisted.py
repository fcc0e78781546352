"""Assisted access (issue 12, after the Aidants Connect model): a mobility advisor acts
for a traveller only under a mandate the traveller accepted. What the consent side needs
to know of such an action is an ``Assistance``: who helped (pseudonymously), under which
mandate, and how (in person or on the phone). The advisor side (idp.advisors) builds it
from the mandate in force on each request; the consent side records it on the consent
record (``collection_method``, ``helper_id``, ``mandate_id``), in the audit log (the
``assisted:*`` and ``mandate:*`` event types of consent.audit) and in the history the
traveller reads ("done by <advisor> at <centre> on your behalf")."""

from __future__ import annotations

from dataclasses import dataclass

IN_PERSON, PHONE = "assisted_in_person", "assisted_phone"
COLLECTION_METHODS = (IN_PERSON, PHONE)


@dataclass(frozen=True)
class Assistance:
    advisor_id: str  # the advisor's pseudonymous id: what records and the audit log keep
    advisor_name: str  # shown to the traveller, never written to the audit log
    centre: str  # the advisor's organisation (a solidarity-mobility centre, a phone centre)
    mandate_id: str
    method: str  # one of COLLECTION_METHODS

    def __post_init__(self) -> None:
        if self.method not in COLLECTION_METHODS:
            raise ValueError(f"unknown collection method {self.method!r}")

    def audit_data(self) -> dict[str, str]:
        """What the audit log may keep of it: pseudonymous, never a name."""
        return {"advisor_id": self.advisor_id, "mandate_id": self.mandate_id,
                "method": self.method}
