"""The promotion rule: a new champion must not be worse than the one it replaces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    candidate: str
    candidate_score: float
    incumbent_version: str | None
    incumbent_score: float | None
    reason: str


def decide_promotion(
    candidate: str,
    candidate_score: float,
    incumbent_version: str | None,
    incumbent_score: float | None,
    metric: str,
    tolerance: float = 0.0,
) -> PromotionDecision:
    """Compare the candidate with the current champion, both scored on the same test set.

    Args:
        tolerance: how much worse than the incumbent the candidate may score and still be
            promoted (0 means "at least as good").
    """
    if incumbent_score is None:
        reason = f"no current champion; {candidate} promoted with {metric}={candidate_score:.4f}"
        return PromotionDecision(True, candidate, candidate_score, incumbent_version, None, reason)
    promote = candidate_score >= incumbent_score - tolerance
    verdict = "promoted" if promote else "refused"
    reason = (
        f"{candidate} {verdict}: {metric}={candidate_score:.4f} vs champion v{incumbent_version}"
        f" {metric}={incumbent_score:.4f} on the same test set (tolerance {tolerance})"
    )
    return PromotionDecision(promote, candidate, candidate_score, incumbent_version, incumbent_score, reason)
