"""Request and response bodies; limits live in `msgspec.Meta` so OpenAPI documents them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

# A long IMDB review is a few thousand characters; 20k leaves room without letting a
# single request tie up the model.
MAX_REVIEW_CHARS = 20_000
# Reviews per batch request: bounds the latency and memory of one `predict_proba` call.
MAX_BATCH = 64
# Request bodies above this answer 413. A full batch of maximal reviews is at most
# 64 * 20k characters * 4 UTF-8 bytes = 5.1 MB, so no valid request is refused.
MAX_BODY_BYTES = 8 * 1024 * 1024

ReviewText = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_REVIEW_CHARS,
        description=f"Review text, 1 to {MAX_REVIEW_CHARS} characters, not only whitespace.",
    ),
]
OptionalId = Annotated[str | None, msgspec.Meta(description="Optional IMDB identifier.")]
Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]


class PredictRequest(msgspec.Struct):
    """One review to score."""

    review_text: ReviewText
    movie_id: OptionalId = None
    user_id: OptionalId = None
    review_date: Annotated[
        date | None,
        msgspec.Meta(
            description="Day the review was written (ISO date); default today (UTC). Feature-store"
            " models use it for the days between release and review."
        ),
    ] = None


class PredictResponse(msgspec.Struct, omit_defaults=True):
    """Score of one review; `is_spoiler` is `spoiler_probability >= threshold`.

    `missing_features` appears only for models that read a feature store."""

    is_spoiler: bool
    spoiler_probability: Probability
    threshold: Probability
    model_name: str
    model_version: str
    missing_features: Annotated[
        list[str] | None,
        msgspec.Meta(
            description="Features the model could not look up (unknown movie or user, no earlier"
            " reviews) and scored as missing; absent for models that use no feature store."
        ),
    ] = None


class BatchPredictRequest(msgspec.Struct):
    """Several reviews scored in one model call."""

    reviews: Annotated[
        list[PredictRequest],
        msgspec.Meta(
            min_length=1,
            max_length=MAX_BATCH,
            description=f"1 to {MAX_BATCH} reviews; answers keep this order.",
        ),
    ]


class BatchPredictResponse(msgspec.Struct):
    """Scores in the order of the request's reviews."""

    predictions: list[PredictResponse]


class ModelInfo(msgspec.Struct):
    """The model being served."""

    model_name: Annotated[str, msgspec.Meta(description="Registered model name.")]
    model_version: Annotated[str, msgspec.Meta(description="Registry version of the champion.")]
    run_id: str | None
    classifier: Annotated[str, msgspec.Meta(description="`name` of the wrapped classifier.")]
    threshold: Probability
    loaded_at: datetime


class Health(msgspec.Struct):
    """Liveness: the process answers."""

    status: str = "ok"


class ErrorBody(msgspec.Struct):
    """Every error answer: the HTTP status and a message (validation errors add `extra`)."""

    status_code: int
    detail: str
