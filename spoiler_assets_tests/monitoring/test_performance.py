import dagster as dg
import numpy as np
import pytest

from spoiler_assets.jobs import retraining_job
from spoiler_assets.monitoring.performance import PerformanceConfig, performance_on_month, reference_figures
from spoiler_assets.sensors import build_drift_sensor

RNG = np.random.default_rng(1)
LABELS = RNG.random(500) < 0.3
RANKING = np.clip(LABELS * 0.4 + RNG.random(500) * 0.6, 0, 1)
TEST = {"roc_auc": 0.9, "pr_auc": 0.8, "f1": 0.7}


def test_reference_comes_from_the_registry_tags_recorded_at_promotion() -> None:
    tags = {"test_roc_auc": "0.910000", "test_pr_auc": "0.800000", "asset": "baseline_model"}
    assert reference_figures(tags) == {"roc_auc": 0.91, "pr_auc": 0.8}


def test_month_as_good_as_test_is_within_tolerance() -> None:
    result = performance_on_month(LABELS, RANKING, 0.5, {**TEST, "roc_auc": 0.95})
    assert result.judged and not result.warn and not result.retrain
    assert set(result.month) == {"roc_auc", "pr_auc", "f1"} and result.month["roc_auc"] > 0.9
    assert result.drop == pytest.approx(0.95 - result.month["roc_auc"])


def test_a_drop_warns_and_a_larger_one_requests_retraining() -> None:
    worse = np.clip(RANKING + RNG.normal(0, 0.35, 500), 0, 1)
    month_auc = performance_on_month(LABELS, worse, 0.5, TEST).month["roc_auc"]
    warned = performance_on_month(LABELS, worse, 0.5, {**TEST, "roc_auc": month_auc + 0.07})
    assert warned.warn and not warned.retrain and "warning" in warned.reason
    retrain = performance_on_month(LABELS, worse, 0.5, {**TEST, "roc_auc": month_auc + 0.2})
    assert retrain.warn and retrain.retrain and "retraining requested" in retrain.reason


def test_small_single_class_or_unreferenced_months_are_not_judged() -> None:
    assert not performance_on_month(LABELS[:50], RANKING[:50], 0.5, TEST).judged
    assert not performance_on_month(np.zeros(500, bool), RANKING, 0.5, TEST).judged
    unreferenced = performance_on_month(LABELS, RANKING, 0.5, {"pr_auc": 0.8})
    assert not unreferenced.judged and "no recorded test roc_auc" in unreferenced.reason
    by_pr_auc = PerformanceConfig(metric="pr_auc")
    pr_auc = performance_on_month(LABELS, RANKING, 0.5, {"pr_auc": 0.999}, by_pr_auc)
    assert pr_auc.judged and pr_auc.drop == pytest.approx(0.999 - pr_auc.month["pr_auc"])


MONTHS = dg.MonthlyPartitionsDefinition(start_date="2016-01-01", end_date="2017-06-01")


def _report(instance: dg.DagsterInstance, month: str, drift: bool, degraded: bool) -> None:
    metadata = {"drift_detected": drift, "performance_degraded": degraded}
    instance.report_runless_asset_event(
        dg.AssetMaterialization("drift_report", partition=month, metadata=metadata)
    )


def test_performance_drop_requests_retraining_through_the_drift_sensor_once_per_month() -> None:
    sensor = build_drift_sensor(retraining_job, MONTHS)
    with dg.instance_for_test() as instance:
        _report(instance, "2017-01-01", drift=False, degraded=True)
        _report(instance, "2017-01-01", drift=True, degraded=True)  # the month re-checked
        _report(instance, "2017-02-01", drift=False, degraded=False)
        tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert [(r.run_key, r.tags["retraining_reason"]) for r in tick.run_requests] == [
            ("drift:2017-01-01", "performance drop in 2017-01")
        ]
        _report(instance, "2017-01-01", drift=True, degraded=False)
        later = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=tick.cursor))
        # the same run key: Dagster never starts a month's retraining twice
        assert [r.run_key for r in later.run_requests] == ["drift:2017-01-01"]
