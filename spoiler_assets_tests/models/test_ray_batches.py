"""Embeddings and batch scoring on Ray Data, on in-process Ray (2 CPUs here)."""

import sys
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from spoiler_assets.models.base import labelled_probabilities
from spoiler_assets.models.baseline import BaselineParams, train_baseline
from spoiler_assets.models.embeddings import EncoderSpec, encode
from spoiler_assets.models.ray_batches import (
    ActorPool,
    EmbeddingParams,
    RayBatchParams,
    encode_on_ray,
    ray_pool,
    score_on_ray,
    score_reviews,
)

TEXTS = [f"Review {i}: " + "the detective is the killer and the brother dies. " * (i % 9) for i in range(40)]


def test_auto_runner_uses_ray_for_large_batches_only() -> None:
    auto = RayBatchParams(min_rows=100)
    ray = sys.modules.get("ray")
    running = ray is not None and ray.is_initialized()  # Ray already up: always used
    assert auto.wants_ray(99) is running and auto.wants_ray(100)
    assert RayBatchParams(runner="ray").wants_ray(1) and not RayBatchParams(runner="local").wants_ray(10**6)
    with pytest.raises(ValueError, match="runner"):
        RayBatchParams(runner="cluster")


def test_a_gpu_cluster_gets_one_gpu_actor_per_gpu_and_fp32_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    # No GPU on this machine: the planning reads what a 2-GPU, 16-CPU cluster reports.
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"GPU": 2.0, "CPU": 16.0})
    on_gpus = ActorPool.plan(RayBatchParams())
    assert (on_gpus.actors, on_gpus.gpus_per_actor) == (2, 1)
    assert ActorPool.plan(RayBatchParams(use_gpu=False, cpus_per_actor=4)) == ActorPool(4, 4, 0, 256)
    assert EmbeddingParams().spec(on_gpus).precision == "fp32"
    assert EmbeddingParams().spec(None).precision == "int8"
    assert EmbeddingParams(precision="int8").ray_params().use_gpu is False
    with pytest.raises(ValueError, match="CPU format"):
        EmbeddingParams(precision="int8", use_gpu="true")
    with pytest.raises(ValueError, match="GPU"):
        encode_on_ray(["a"], EncoderSpec(precision="int8"), on_gpus)


@pytest.fixture(scope="module")
def pool() -> Iterator[ActorPool]:
    with ray_pool(RayBatchParams(runner="ray", batch_size=8), len(TEXTS)) as planned:
        assert planned is not None
        yield planned


@pytest.mark.slow
def test_pool_is_one_cpu_actor_per_cpu_without_gpus(pool: ActorPool) -> None:
    import ray

    assert pool.gpus_per_actor == 0 and pool.actors == int(ray.cluster_resources()["CPU"])
    with pytest.raises(ValueError, match="no GPU"):
        ActorPool.plan(RayBatchParams(use_gpu=True))


@pytest.mark.slow
def test_ray_data_gives_the_single_process_vectors_in_input_order(pool: ActorPool) -> None:
    spec = EncoderSpec(max_seq_length=64, precision="int8")
    reports: list[tuple[int, int]] = []

    vectors = encode_on_ray(TEXTS, spec, pool, progress=lambda done, total, _: reports.append((done, total)))

    cosine = (vectors * encode(TEXTS, spec)).sum(axis=1)
    assert vectors.shape == (len(TEXTS), 384) and cosine.min() >= 0.9999
    assert reports[-1] == (len(TEXTS), len(TEXTS))


@pytest.mark.slow
def test_ray_data_scores_like_the_classifier_itself(pool: ActorPool) -> None:
    reviews = pd.DataFrame(
        {"review_text": TEXTS, "is_spoiler": [("killer" in t) for t in TEXTS], "review_id": range(len(TEXTS))}
    ).iloc[::-1]  # an index out of order: positions, not labels, must line up
    model = train_baseline(reviews, reviews, BaselineParams(hash_bits=12))

    expected = model.predict_proba(reviews)

    np.testing.assert_allclose(score_on_ray(model, reviews, pool), expected, rtol=1e-6)
    local, where = score_reviews(model, reviews, RayBatchParams(runner="local"), score=labelled_probabilities)
    assert where == "this process"
    np.testing.assert_allclose(local, expected, rtol=1e-6)
