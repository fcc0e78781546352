"""Fuzzing with Hypothesis. Its storage (caches; no example database is kept) goes to
the system's temporary directory, never into the repository."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "mobility-id-hypothesis")
