"""Phone numbers as the account stores them (E.164, ``+33612345678``) and as pages show
them: in full to the signed-in traveller, masked where the reader may be someone else."""

from __future__ import annotations

import re

SEPARATORS = re.compile(r"[ .()\-]")
E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
FRENCH = re.compile(r"^0[1-9][0-9]{8}$")  # 06 12 34 56 78, as French people write it


def normalize_number(typed: str) -> str | None:
    """The number in E.164, or None when it cannot be one. A French national number
    (ten digits from 0) is taken as French: the service is French."""
    number = SEPARATORS.sub("", typed.strip())
    if number.startswith("00"):
        number = "+" + number[2:]
    elif FRENCH.match(number):
        number = "+33" + number[1:]
    return number if E164.match(number) else None


def is_mobile(number: str) -> bool:
    """Whether an E.164 number can receive a text message: for France, 06 and 07
    (+336, +337); other countries' numbers are taken as they come."""
    return not number.startswith("+33") or number[3:4] in ("6", "7")


def format_number(number: str) -> str:
    """How a traveller writes their own number: ``06 12 34 56 78`` for a French one."""
    if number.startswith("+33") and len(number) == 12:
        national = "0" + number[3:]
        return " ".join(national[i:i + 2] for i in range(0, 10, 2))
    return number


def mask_number(number: str) -> str:
    """Enough to recognise one's own number, too little to learn someone else's:
    ``06 •• •• •• 78``."""
    shown = format_number(number)
    digits = [i for i, c in enumerate(shown) if c.isdigit()]
    hidden = set(digits[2:-2])
    return "".join("•" if i in hidden else c for i, c in enumerate(shown))
