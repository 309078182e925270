from spoiler_assets.models.promotion import decide_promotion


def test_first_champion_is_promoted() -> None:
    decision = decide_promotion("baseline_model", 0.7, None, None, "pr_auc")
    assert decision.promote and "no current champion" in decision.reason


def test_worse_candidate_is_refused() -> None:
    decision = decide_promotion("baseline_model", 0.69, "3", 0.70, "pr_auc")
    assert not decision.promote and "refused" in decision.reason


def test_equal_or_within_tolerance_is_promoted() -> None:
    assert decide_promotion("m", 0.70, "3", 0.70, "pr_auc").promote
    assert decide_promotion("m", 0.695, "3", 0.70, "pr_auc", tolerance=0.01).promote
