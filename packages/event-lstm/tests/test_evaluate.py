"""Event metrics agree with hand counts and the core's matching."""

from __future__ import annotations

import numpy as np
import pytest
from event_lstm.evaluate import event_metrics


def test_metrics_of_shifted_predictions_follow_the_tolerances() -> None:
    true_s = np.array([1000.0, 20000.0, 40000.0, 60000.0])
    true_t = np.array([0, 1, 2, 1])
    pred_s = true_s + 6  # 3 ms late at 2 kHz
    pred_t = np.array([0, 1, 5, 1])  # one wrong type
    res = event_metrics(true_s, true_t, pred_s, pred_t, 2000, 16, [2.0, 5.0, 10.0, 20.0], 4000)
    assert res["by_tolerance"]["2ms"]["overall"]["f1"] == 0.0
    o5 = res["by_tolerance"]["5ms"]["overall"]
    assert (o5["tp"], o5["fp"], o5["fn"]) == (3, 1, 1)
    assert o5["f1"] == pytest.approx(0.75)
    assert res["by_tolerance"]["5ms"]["per_type"][1]["f1"] == 1.0
    assert res["onset_error_ms"]["median"] == pytest.approx(3.0)
    cm = np.array(res["confusion_5ms"])
    assert cm[2, 5] == 1 and cm[1, 1] == 2 and cm[:16, 16].sum() == 0
    assert res["refractory_violations"] == 0


def test_refractory_violations_are_counted_per_type() -> None:
    s = np.array([0.0, 3000.0, 3500.0, 9000.0])
    t = np.array([1, 1, 2, 1])
    res = event_metrics(s, t, s, t, 2000, 16, [5.0], 4000)
    assert res["refractory_violations"] == 1
    assert res["by_tolerance"]["5ms"]["overall"]["f1"] == 1.0
