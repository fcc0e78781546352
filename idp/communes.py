"""French communes by name, for the "Where you live" page: the traveller types the name
of their town (and, if they wish, its postal code) and never its official INSEE code,
which the home_commune claim carries (shared/SCOPES.md). The list is Etalab's
(idp/data/README.md); its index is built once per process, at first use."""

from __future__ import annotations

import gzip
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SOURCE = Path(__file__).parent / "data" / "communes.tsv.gz"
# The short forms people type for the most common words of French town names.
ABBREVIATIONS = {"st": "saint", "ste": "sainte"}


@dataclass(frozen=True)
class Commune:
    insee_code: str
    name: str
    department: str
    postal_codes: tuple[str, ...]

    @property
    def label(self) -> str:
        """How a choice is shown when several towns share a name: "Saint-Denis (93)"."""
        return f"{self.name} ({self.department})"


@dataclass(frozen=True)
class Index:
    by_name: dict[str, tuple[Commune, ...]]
    by_postal_code: dict[str, tuple[Commune, ...]]
    by_code: dict[str, Commune]


def normalize(name: str) -> str:
    """The form of a name used for matching: no accents, case, hyphens or apostrophes,
    so that "st etienne" finds "Saint-Étienne"."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", plain)
    return " ".join(ABBREVIATIONS.get(w, w) for w in words)


@cache
def index() -> Index:
    by_name: dict[str, list[Commune]] = defaultdict(list)
    by_postal_code: dict[str, list[Commune]] = defaultdict(list)
    by_code = {}
    with gzip.open(SOURCE, "rt", encoding="utf-8") as lines:
        for line in lines:
            code, name, department, postal = line.rstrip("\n").split("\t")
            commune = Commune(code, name, department, tuple(filter(None, postal.split(","))))
            by_name[normalize(name)].append(commune)
            for postal_code in commune.postal_codes:
                by_postal_code[postal_code].append(commune)
            by_code[code] = commune
    return Index({k: tuple(v) for k, v in by_name.items()},
                 {k: tuple(v) for k, v in by_postal_code.items()}, by_code)


def find(name: str, postal_code: str = "") -> tuple[Commune, ...]:
    """The communes that fit what the traveller typed: by name, narrowed by the postal
    code when one is given; by postal code alone when no name is."""
    postal_code = postal_code.replace(" ", "")
    if not normalize(name):
        return index().by_postal_code.get(postal_code, ()) if postal_code else ()
    found = index().by_name.get(normalize(name), ())
    if postal_code:
        found = tuple(c for c in found if postal_code in c.postal_codes)
    return found


def by_code(insee_code: str) -> Commune | None:
    return index().by_code.get(insee_code)
