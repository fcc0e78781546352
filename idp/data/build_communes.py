"""Derive idp/data/communes.tsv.gz from Etalab's "@etalab/decoupage-administratif"
(data/communes.json, Licence Ouverte 2.0): one line per current commune,
INSEE code, name, department and postal codes.
Run: python idp/data/build_communes.py communes.json"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

TARGET = Path(__file__).parent / "communes.tsv.gz"


def main(source: str) -> None:
    communes = json.loads(Path(source).read_text(encoding="utf-8"))
    lines = [
        "\t".join((c["code"], c["nom"], c["departement"], ",".join(c.get("codesPostaux", []))))
        for c in communes if c["type"] == "commune-actuelle"
    ]
    # mtime=0: the same source always gives the same bytes.
    with gzip.GzipFile(TARGET, "wb", mtime=0) as out:
        out.write(("\n".join(sorted(lines)) + "\n").encode())


if __name__ == "__main__":
    main(sys.argv[1])
