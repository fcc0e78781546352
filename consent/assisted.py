"""Assisted access (issue 12, after the Aidants Connect model): a mobility advisor acts
for a traveller only under a mandate the traveller accepted. What the consent side needs
to know of such an action is an ``Assistance``: who helped (pseudonymously), under which
mandate, and how (in person or on the phone). The advisor side (idp.advisors) builds it
from the mandate in force on each request; the consent side records it on the consent
record (``collection_method``, ``helper_id``, ``mandate_id``), in the audit log (the
``assisted:*`` and ``mandate:*`` event types of consent.audit) and in the history the
traveller reads ("done by <advisor> at <centre> on your behalf")."""

from __future__ import annotations

# Defined in idp (idp.advisors builds it, and idp never imports consent): the same class.
from idp.advisors.assistance import COLLECTION_METHODS, IN_PERSON, PHONE, Assistance

__all__ = ["COLLECTION_METHODS", "IN_PERSON", "PHONE", "Assistance"]
