"""What an assisted action carries: who helped (pseudonymously), under which mandate,
and how (in person or on the phone).

It lives in ``idp`` because ``idp.advisors`` builds it from the mandate in force, and
``idp`` never imports ``consent`` (shared/STYLE.md); ``consent.assisted`` re-exports it
for the consent side, which records it."""

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
