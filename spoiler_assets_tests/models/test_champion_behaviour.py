"""Behavioural tests of the served champion (after Made-With-ML): invariance, direction,
minimum functionality. They run on the champion of the demo-like SYNTHETIC corpus (the
session's `trained_platform`), so the reviews below are written in that corpus's style."""

from typing import Any

import numpy as np
import pytest

from spoiler_assets.models.base import reviews_frame
from spoiler_assets.resources.environment import build_resources
from spoiler_assets_tests.conftest import TrainedPlatform

pytestmark = pytest.mark.slow

# Obvious means explicit: the suite's champion comes from 1,500 SYNTHETIC reviews on lean
# budgets (test ROC-AUC about 0.63), so a single hint is not always past its threshold.
SPOILERS = [
    "Spoiler warning. The twist is that Owen is revealed to be the killer. Owen was the killer "
    "all along, and Celia dies in his arms in the end.",
    "Major spoilers ahead. Beatrix dies saving Gideon. The twist is that Iris finds out that "
    "Gideon is the real father, and Iris and Gideon get married in the end.",
    "The Hollow Horizon spoilers: the twist is that Nora is revealed to be the killer, and Sabine "
    "dies in the end.",
]
NON_SPOILERS = [
    "I saw The Iron Crown last weekend with my family. The lead performance is superb overall. "
    "Visually, it is stunning.",
    "No spoilers here. The Midnight Mirror is gorgeous, the script deserves an award and the "
    "soundtrack is brilliant.",
    "I went into The Hollow Horizon with low expectations. My friends found it superb, and I agree. "
    "Some of the dialogue feels forced.",
]
# Names and titles the corpus never uses for these stories: the verdict must not hinge on them.
RENAMES = {"Owen": "Rupert", "Celia": "Greta", "Beatrix": "Wanda", "Iris": "Maeve", "Gideon": "Tobias",
           "Sabine": "Yvonne", "Nora": "Hazel", "The Iron Crown": "The Silver Lantern",
           "The Midnight Mirror": "The Quiet Harbour", "The Hollow Horizon": "The Paper Moon"}  # fmt: skip
REVEAL = " And in the end the detective is the killer."


@pytest.fixture(scope="module")
def champion(trained_platform: TrainedPlatform) -> Any:
    """The registry's `champion` version, as batch scoring loads it."""
    tracking = build_resources(trained_platform.settings)["mlflow_tracking"]
    version = tracking.champion_version()
    assert version is not None and str(version.version) == trained_platform.champion.version
    return tracking.load_version(version)


def _proba(model: Any, texts: list[str]) -> np.ndarray:
    return np.asarray(model.predict_proba(reviews_frame(texts)), dtype=float)


def _renamed(text: str) -> str:
    for old, new in RENAMES.items():
        text = text.replace(old, new)
    return text


def test_minimum_functionality_obvious_spoilers_and_obvious_non_spoilers(champion: Any) -> None:
    spoilers, clean = _proba(champion, SPOILERS), _proba(champion, NON_SPOILERS)
    assert (spoilers >= champion.threshold).all(), (spoilers, champion.threshold)
    assert (clean < champion.threshold).all(), (clean, champion.threshold)


def test_invariance_renaming_characters_and_title_does_not_flip_the_answer(champion: Any) -> None:
    texts = SPOILERS + NON_SPOILERS
    before, after = _proba(champion, texts), _proba(champion, [_renamed(t) for t in texts])
    assert ((before >= champion.threshold) == (after >= champion.threshold)).all(), (before, after)


def test_direction_revealing_the_killer_raises_the_spoiler_probability(champion: Any) -> None:
    before = _proba(champion, NON_SPOILERS)
    after = _proba(champion, [t + REVEAL for t in NON_SPOILERS])
    assert (after > before).all(), (before, after)
