"""The MSSD dev file beside the project (tests that need it skip when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[4] / "shared" / "data"  # beside the repo
MSSD_FILE = SHARED_DATA / "spotify_mssd" / "sessions_dev.csv.gz"
needs_mssd = pytest.mark.skipif(not MSSD_FILE.is_file(), reason=f"{MSSD_FILE} not present")


@pytest.fixture(scope="module")
def data():
    """The first 700 sessions of the dev file, split by session as the benchmark does."""
    if not MSSD_FILE.is_file():
        pytest.skip(f"{MSSD_FILE} not present")
    from benchmarks.mssd_skip.data import load_data

    return load_data(str(MSSD_FILE), "", quick=True, seed=0, test_fraction=0.2, val_fraction=0.15)
