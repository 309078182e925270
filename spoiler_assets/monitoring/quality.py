"""Data and model quality rules, as plain functions returning the offending figures."""

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

REQUIRED_RAW = {
    "review_date": "datetime64[ns]", "movie_id": "object", "user_id": "object",
    "is_spoiler": "bool", "review_text": "object",
}  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    passed: bool
    description: str
    figures: Mapping[str, float | int | str] = field(default_factory=dict)


def schema(frame: pd.DataFrame, required: dict[str, str] = REQUIRED_RAW) -> Outcome:
    wrong = {
        c: str(frame[c].dtype) if c in frame else "missing"
        for c, dtype in required.items()
        if c not in frame or str(frame[c].dtype) != dtype
    }
    return Outcome(not wrong, f"columns with a wrong type: {wrong}" if wrong else "schema as expected", wrong)


def dates_within(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> Outcome:
    outside = int(((frame["review_date"] < start) | (frame["review_date"] >= end)).sum())
    figures: dict[str, int | str] = {"outside": outside, "window": f"{start.date()}..{end.date()}"}
    return Outcome(outside == 0, f"{outside} reviews dated outside their partition", figures)


def share_at_most(name: str, count: int, total: int, limit: float) -> Outcome:
    share = count / total if total else 0.0
    figures = {f"{name}": count, "total": total, "share": round(share, 4), "limit": limit}
    return Outcome(share <= limit, f"{name} share {share:.2%} (limit {limit * 100:g}%)", figures)


def null_shares(frame: pd.DataFrame, columns: list[str], limit: float) -> Outcome:
    shares = {c: round(float(frame[c].isna().mean()), 4) for c in columns} if len(frame) else {}
    over = {c: s for c, s in shares.items() if s > limit}
    return Outcome(not over, f"null shares over {limit:.0%}: {over}" if over else "null shares fine", shares)


def label_share_within(frame: pd.DataFrame, low: float, high: float) -> Outcome:
    share = float(frame["is_spoiler"].mean()) if len(frame) else 0.0
    figures = {"spoiler_share": round(share, 4), "low": low, "high": high}
    return Outcome(low <= share <= high or not len(frame), f"spoiler share {share:.2%}", figures)


def metric_floor(scores: pd.DataFrame, asset: str, metric: str, floor: float) -> Outcome:
    value = float(scores.loc[asset, metric])
    return Outcome(
        value >= floor, f"{asset} {metric} {value:.4f} (floor {floor})", {metric: value, "floor": floor}
    )
