"""Benchmark: the shield's figures in one run, on the demo's SYNTHETIC corpus.

1. Sentence-level ROC-AUC / PR-AUC on the real Goodreads spoiler sentences (CROSS-DOMAIN:
   trained on synthetic movie reviews, judged on book-review sentences): the MIL sentence
   model against the naive approach, the TF-IDF baseline scoring each sentence alone. The
   same function `sentence_evaluation` calls; the asset adds the champion's row.
2. `POST /predict` p50 for a 1,100-character review with and without `"sentences": true`:
   the baseline and the sentence model registered in a local MLflow registry as the
   champion pair, the API started the production way (`uvicorn --factory api.main:build_app`),
   sequential requests, the two kinds interleaved so that machine load hits both alike.

    python -m spoiler_assets_tests.benchmarks.shield_benchmark [--requests 300]

Not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from spoiler_assets.assets.sentences import DEFAULT_SENTENCE_LABELS
from spoiler_assets.data.cleaning import clean_reviews
from spoiler_assets.data.kaggle import read_movie_details, read_reviews
from spoiler_assets.data.splitting import split_by_time
from spoiler_assets.data.synthetic import generate_corpus
from spoiler_assets.demo import DEMO_SPEC
from spoiler_assets.models.base import reviews_frame
from spoiler_assets.models.baseline import BaselineParams, train_baseline
from spoiler_assets.models.sentence_evaluation import evaluate_sentence_scorers, load_goodreads_sentences
from spoiler_assets.models.sentences import SENTENCE_MODEL_SUFFIX, SentenceParams, train_sentence_model
from spoiler_assets.resources.tracking import MlflowTrackingResource
from spoiler_assets_tests.benchmarks.api_benchmark import post, serve
from spoiler_assets_tests.servers import free_port

REVIEW_CHARS = 1_100


def demo_split(folder: Path) -> pd.DataFrame:
    """The demo's SYNTHETIC corpus, read, cleaned and split as the pipeline does."""
    source = folder / "corpus"
    generate_corpus(source, DEMO_SPEC)
    months = [
        f"{m}-01" for m in pd.period_range(DEMO_SPEC.first_month, DEMO_SPEC.last_month, freq="M").astype(str)
    ]
    raw = pd.concat(
        read_reviews(str(source), months=None, valid_months=months, max_bad_share=0.05).by_month.values()
    )
    movies, _ = read_movie_details(str(source), max_bad_share=0.05)
    cleaned, _ = clean_reviews(raw.reset_index(drop=True), movies)
    return split_by_time(cleaned)


def long_review(test: pd.DataFrame) -> str:
    """Test reviews joined and cut to exactly REVIEW_CHARS characters."""
    text = " ".join(test.sort_values("review_id")["review_text"].head(20))
    return text[:REVIEW_CHARS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests of each kind")
    parser.add_argument("--labels", type=Path, default=DEFAULT_SENTENCE_LABELS, help="Goodreads folder")
    args = parser.parse_args()
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"

    with tempfile.TemporaryDirectory(prefix="shield-benchmark-") as tmp:
        folder = Path(tmp)
        split = demo_split(folder)
        train, valid, test = (split[split["split"] == s] for s in ("train", "valid", "test"))
        started = time.perf_counter()
        sentence_model = train_sentence_model(train, valid, SentenceParams())
        sentence_s = time.perf_counter() - started
        baseline = train_baseline(train, valid, BaselineParams())
        print(f"SYNTHETIC demo corpus: {len(train):,} training reviews")
        print(f"sentence model (MIL) trained in {sentence_s:.1f} s")

        sentences = load_goodreads_sentences(args.labels)
        scores = evaluate_sentence_scorers(
            sentences,
            {
                "sentence_model (MIL)": (sentence_model.name, sentence_model.predict_sentences),
                "naive: baseline_model": (
                    baseline.name,
                    lambda s: baseline.predict_proba(reviews_frame(list(s))),
                ),
            },
        )
        print(
            f"\nCROSS-DOMAIN: trained on SYNTHETIC movie reviews, judged on {len(sentences):,} Goodreads"
            f" sentences ({int(sentences['is_spoiler'].sum())} spoilers)\n"
        )
        print(scores.to_markdown(index=False, floatfmt=".4f"))

        tracking = MlflowTrackingResource(
            tracking_uri=f"sqlite:///{folder / 'mlflow.db'}", artifact_location=str(folder / "artifacts")
        )
        for name, model in (
            ("spoiler-shield", baseline),
            ("spoiler-shield" + SENTENCE_MODEL_SUFFIX, sentence_model),
        ):
            with tracking.start_run(name):
                uri = tracking.log_classifier(model)
            pair = tracking.model_copy(update={"model_name": name})
            version = pair.register(uri, tags={})
            pair.set_champion(version)

        port = free_port()
        env = {
            **os.environ,
            "SPOILER_DATA_DIR": str(folder / "data"),
            "MLFLOW_TRACKING_URI": tracking.tracking_uri,
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        }
        server = serve(env, port)
        try:
            url = f"http://127.0.0.1:{port}/predict"
            text = long_review(test)
            timings: dict[bool, list[float]] = {False: [], True: []}
            for i in range(args.requests * 2 + 20):
                with_sentences = i % 2 == 1
                begun = time.perf_counter()
                answer = post(url, {"review_text": text, "sentences": with_sentences})
                if i >= 20:  # warm-up done
                    timings[with_sentences].append((time.perf_counter() - begun) * 1000)
            n_sentences = len(answer["sentences"])
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"\nPOST /predict, {len(text):,}-character review ({n_sentences} sentences),", end=" ")
    print(f"{args.requests} sequential requests of each kind:")
    for with_sentences, values in timings.items():
        cuts = statistics.quantiles(values, n=100)
        label = 'with "sentences": true' if with_sentences else "review only"
        print(f"  {label:24s} p50 {statistics.median(values):6.1f} ms   p99 {cuts[98]:6.1f} ms")


if __name__ == "__main__":
    main()
