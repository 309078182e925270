"""What the feature-store and API benchmarks share: a SYNTHETIC corpus in a Redis-backed
feature store, and a hybrid model trained on it. Uses the package's own functions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spoiler_assets.data.cleaning import clean_reviews
from spoiler_assets.data.kaggle import read_movie_details, read_reviews
from spoiler_assets.data.splitting import split_by_time
from spoiler_assets.data.synthetic import CorpusSpec, generate_corpus
from spoiler_assets.features.sources import movie_feature_table, review_feature_table, user_history_table
from spoiler_assets.features.store import FeatureStoreSpec
from spoiler_assets.models.embeddings import EncoderSpec, encode
from spoiler_assets.models.hybrid import HybridInputs, HybridSplit
from spoiler_assets.models.hybrid_xgboost import XGBoostParams, XGBoostSpoilerModel, train_xgboost
from spoiler_assets.resources.feature_store import FeatureStoreResource
from spoiler_assets.settings import Settings

FIRST, LAST = "2016-01", "2016-12"


@dataclass(frozen=True)
class Corpus:
    settings: Settings
    split: pd.DataFrame


def prepare(folder: Path, n_reviews: int, redis_url: str) -> Corpus:
    """Generate, read, clean and split a SYNTHETIC corpus; settings point at Redis."""
    source = folder / "corpus"
    generate_corpus(
        source, CorpusSpec(n_reviews=n_reviews, n_movies=150, seed=7, first_month=FIRST, last_month=LAST)
    )
    months = [f"{m}-01" for m in pd.period_range(FIRST, LAST, freq="M").astype(str)]
    raw = pd.concat(
        read_reviews(str(source), months=None, valid_months=months, max_bad_share=0.05).by_month.values()
    )
    movies, _ = read_movie_details(str(source), max_bad_share=0.05)
    cleaned, _ = clean_reviews(raw.reset_index(drop=True), movies)
    settings = Settings.from_env(
        {
            "SPOILER_DATA_DIR": str(folder / "data"),
            "SPOILER_SOURCE": str(source),
            "SPOILER_FIRST_MONTH": FIRST,
            "SPOILER_LAST_MONTH": LAST,
            "REDIS_URL": redis_url,
        }
    )
    feature_store(settings).write_source("sources/movie_features.parquet", movie_feature_table(movies))
    return Corpus(settings, split_by_time(cleaned))


def feature_store(settings: Settings) -> FeatureStoreResource:
    return FeatureStoreResource.from_spec(FeatureStoreSpec.from_settings(settings), settings.feature_repo_dir)


def load_store(corpus: Corpus) -> FeatureStoreResource:
    """Sources written, definitions applied, everything materialized into Redis."""
    store = feature_store(corpus.settings)
    store.write_source("sources/user_history.parquet", user_history_table(corpus.split))
    month = corpus.split["review_date"].dt.strftime("%Y-%m")
    for key, rows in corpus.split.groupby(month):
        store.write_source(f"sources/review_features/{key}.parquet", review_feature_table(rows))
    store.apply()
    store.materialize(pd.Timestamp.now(tz="UTC").to_pydatetime())
    return store


def train_model(store: FeatureStoreResource, corpus: Corpus, max_train: int) -> XGBoostSpoilerModel:
    """A hybrid XGBoost model on at most `max_train` of the newest training reviews."""
    encoder = EncoderSpec()
    split = corpus.split
    parts = []
    for name, limit in (("train", max_train), ("valid", max_train // 4)):
        rows = split[split["split"] == name].tail(limit)
        features = store.historical_features(rows)
        vectors = encode(rows["review_text"].tolist(), encoder)
        parts.append(HybridSplit(features, vectors, rows["is_spoiler"].to_numpy(dtype=bool)))
    inputs = HybridInputs(store=store.spec(), encoder=encoder)
    return train_xgboost(parts[0], parts[1], inputs, XGBoostParams())


def test_requests(corpus: Corpus, n: int, seed: int = 0) -> pd.DataFrame:
    test = corpus.split[corpus.split["split"] == "test"]
    picks = np.random.default_rng(seed).integers(0, len(test), n)
    return test.iloc[picks][["review_text", "movie_id", "user_id"]].reset_index(drop=True)
