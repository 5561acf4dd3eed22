import math

import pytest

from scorelab.aggregate import summarize


def test_mean_and_sample_std():
    runs = [{"a": 1.0, "b": 2, "name": "x"}, {"a": 3.0, "b": 2, "name": "y"}]
    s = summarize(runs)
    assert set(s) == {"a", "b"}  # strings are not metrics
    assert s["a"]["mean"] == 2.0 and math.isclose(s["a"]["std"], math.sqrt(2.0))
    assert s["b"] == {"mean": 2.0, "std": 0.0}


def test_undefined_values_are_skipped():
    s = summarize([{"u": None, "v": None}, {"u": 0.5, "v": None}])
    assert s == {"u": {"mean": 0.5, "std": 0.0}}
    assert summarize([{"a": 4.0}]) == {"a": {"mean": 4.0, "std": 0.0}}
    with pytest.raises(ValueError, match="at least one run"):
        summarize([])
