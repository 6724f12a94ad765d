"""The shortlist benchmark: exhaustive pessimistic greedy against its two-stage search."""

import numpy as np
import pytest

from agents.greedy import shortlist
from benchmarks.greedy_shortlist import Args, main


def test_shortlist_keeps_each_rows_best_tracks_in_track_order() -> None:
    screen = np.array([[0.1, 0.9, 0.5, 0.7], [3.0, 2.0, 1.0, 0.0]])
    np.testing.assert_array_equal(shortlist(screen, 2), [[1, 3], [0, 1]])
    np.testing.assert_array_equal(shortlist(screen, 4), [[0, 1, 2, 3], [0, 1, 2, 3]])


def test_a_shortlist_of_the_whole_catalog_is_the_exhaustive_search(tmp_path) -> None:
    report = main(Args(out_dir=str(tmp_path), quick=True, modes=["calm"], sizes=[1, 1200]))
    sizes = report["modes"]["calm"]["sizes"]
    assert sizes[1200]["found"] == 1.0 and sizes[1200]["max_loss"] == 0.0
    assert 0.0 <= sizes[1]["found"] <= 1.0 and sizes[1]["mean_loss"] >= 0.0
    assert sizes[1]["cost_vs_exhaustive"] < sizes[1200]["cost_vs_exhaustive"]
    assert "| calm | 1200 | 100.0% |" in (tmp_path / "greedy_shortlist.md").read_text()


def test_bad_sizes_are_refused_in_one_line() -> None:
    for bad in ([0], [32, 1201]):
        with pytest.raises(ValueError, match=r"sizes must be shortlist lengths in 1\.\.1200"):
            Args(sizes=bad)
