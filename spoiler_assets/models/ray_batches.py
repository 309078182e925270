"""Heavy per-row work on Ray Data: review embeddings and batch scoring.

Decisions:
- Ray Data streams blocks of rows through a fixed pool of actors (`map_batches` with an
  `ActorPoolStrategy`): each actor loads its encoder (or the champion) once and keeps it,
  and a bigger cluster is a bigger pool, so a faster run.
- GPU actors (one GPU each; the encoder in torch fp32 on CUDA) when the cluster has GPUs
  and `use_gpu` allows; otherwise CPU actors, each running ONNX Runtime with as many
  threads as CPUs it reserves. int8 vectors are a CPU format: with GPU actors the
  embeddings asset asks for fp32 ones.
- Rows carry their position and come back in any order: the output is in input order and
  holds the single-process path's vectors (same encoder, same texts).
- Texts are sorted by length before they are cut into blocks, so a batch pads little.
- Progress: the driver takes results as they stream in and reports every 1,024 rows.
- When: `runner` "ray" always, "local" never, "auto" when Ray already runs in this
  process or the work holds at least `min_rows` rows: starting Ray (in-process, or a
  connection to RAY_ADDRESS, which Ray reads itself) and loading an encoder per actor
  costs seconds, not worth it for a few hundred reviews.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from spoiler_assets.models.embeddings import EMBEDDING_DIM, EncoderSpec, Progress

GpuChoice = bool | Literal["auto"]
Scorer = Callable[[Any, pd.DataFrame], np.ndarray]  # (classifier, reviews) -> probabilities
RUNNERS = ("auto", "ray", "local")
_REPORT_EVERY = 1_024


@dataclass(frozen=True)
class RayBatchParams:
    """Whether and how per-row work goes to Ray Data."""

    runner: str = "auto"  # "auto" | "ray" | "local"
    min_rows: int = 2_000  # "auto": Ray Data from this many rows on
    batch_size: int = 256  # rows per actor call (and per block)
    concurrency: int = 0  # actors; 0: one per GPU, or one per `cpus_per_actor` CPUs
    cpus_per_actor: int = 1
    use_gpu: GpuChoice = "auto"

    def __post_init__(self) -> None:
        if self.runner not in RUNNERS:
            raise ValueError(f"runner must be one of {RUNNERS}, not {self.runner!r}")
        if self.use_gpu not in (True, False, "auto"):
            raise ValueError(f"use_gpu must be True, False or 'auto', not {self.use_gpu!r}")
        if self.batch_size < 1 or self.cpus_per_actor < 1 or self.concurrency < 0:
            raise ValueError(f"batch_size and cpus_per_actor >= 1, concurrency >= 0: {self}")

    def wants_ray(self, n_rows: int) -> bool:
        if self.runner != "auto":
            return self.runner == "ray"
        ray = sys.modules.get("ray")  # not imported: certainly not running
        return n_rows >= self.min_rows or bool(ray is not None and ray.is_initialized())


@dataclass(frozen=True)
class ActorPool:
    """The actor pool a Ray Data stage gets on the cluster Ray is connected to."""

    actors: int
    cpus_per_actor: int
    gpus_per_actor: int
    batch_size: int

    @classmethod
    def plan(cls, params: RayBatchParams) -> ActorPool:
        import ray

        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
        if params.use_gpu is True and gpus < 1:
            raise ValueError("use_gpu=True, but the Ray cluster has no GPU")
        on_gpu = gpus >= 1 and params.use_gpu is not False
        default = gpus if on_gpu else max(1, cpus // params.cpus_per_actor)
        return cls(
            actors=params.concurrency or default,
            cpus_per_actor=params.cpus_per_actor,
            gpus_per_actor=1 if on_gpu else 0,
            batch_size=params.batch_size,
        )

    def describe(self) -> str:
        device = f"{self.gpus_per_actor} GPU" if self.gpus_per_actor else f"{self.cpus_per_actor} CPU"
        return f"Ray Data: {self.actors} actors x {device}, batches of {self.batch_size}"


_GPU_CHOICES: dict[str, GpuChoice] = {"auto": "auto", "true": True, "false": False}


class EmbeddingParams(BaseModel):
    """How review embeddings are made, as the run config spells it: the encoder
    (`EncoderSpec`'s defaults) and whether and how Ray Data runs it (`RayBatchParams`').
    `EmbeddingConfig` (`review_embeddings`' run config) inherits these fields."""

    model_config = ConfigDict(frozen=True)

    model_path: str = Field(
        default="", description="Local SentenceTransformer checkpoint; empty: packaged MiniLM"
    )
    max_seq_length: int = Field(
        default=EncoderSpec.max_seq_length,
        description=(
            "Tokens per review the encoder reads: 256 is the checkpoint's own; 128 is 2x faster on"
            " a CPU but its vectors differ (cosine 0.93 on average to the 256-token ones)"
        ),
    )
    batch_size: int = Field(
        default=EncoderSpec.batch_size, description="Reviews per encoder batch (length-bucketed)"
    )
    precision: str = Field(
        default="auto",
        description=(
            "fp32 (SentenceTransformer.encode's vectors), int8 (quantised ONNX, about 1.4x faster"
            " than fp32 on a CPU, min cosine 0.995 to fp32), or auto: int8 on CPUs, fp32 on GPU actors"
        ),
    )
    runtime: str = Field(
        default=EncoderSpec.runtime, description="onnx (ONNX Runtime, exported at first use) or torch"
    )
    runner: str = Field(
        default=RayBatchParams.runner,
        description=(
            "ray: Ray Data actors (in-process Ray, or the cluster at RAY_ADDRESS); local: this"
            " process; auto: ray from ray_min_reviews reviews on, or when Ray already runs here"
        ),
    )
    ray_min_reviews: int = Field(
        default=RayBatchParams.min_rows, description="runner auto: Ray Data from this many reviews"
    )
    ray_batch_size: int = Field(
        default=RayBatchParams.batch_size, description="Reviews per Ray Data batch (one actor call)"
    )
    ray_concurrency: int = Field(
        default=RayBatchParams.concurrency,
        description="Ray Data actors; 0: one per GPU, or one per ray_cpus_per_actor CPUs",
    )
    ray_cpus_per_actor: int = Field(
        default=RayBatchParams.cpus_per_actor, description="CPUs (ONNX Runtime threads) per CPU actor"
    )
    use_gpu: str = Field(  # a key of _GPU_CHOICES
        default="auto", description="GPU actors: auto (if the cluster has GPUs), true, false"
    )

    @model_validator(mode="after")
    def _check_gpu_choice(self) -> EmbeddingParams:
        if self.use_gpu not in _GPU_CHOICES:
            raise ValueError(f"use_gpu must be one of {sorted(_GPU_CHOICES)}, got {self.use_gpu!r}")
        if self.use_gpu == "true" and self.precision == "int8":
            raise ValueError("precision int8 is a CPU format: use fp32 or auto with use_gpu true")
        return self

    def ray_params(self) -> RayBatchParams:
        return RayBatchParams(
            runner=self.runner,
            min_rows=self.ray_min_reviews,
            batch_size=self.ray_batch_size,
            concurrency=self.ray_concurrency,
            cpus_per_actor=self.ray_cpus_per_actor,
            # int8 vectors are made on CPUs: asked for explicitly, they keep actors off GPUs.
            use_gpu=False if self.precision == "int8" else _GPU_CHOICES[self.use_gpu],
        )

    def spec(self, pool: ActorPool | None) -> EncoderSpec:
        """The encoder on `pool` (None: this process): `auto` asks GPU actors for fp32."""
        precision = self.precision
        if precision == "auto":
            precision = "fp32" if pool is not None and pool.gpus_per_actor else "int8"
        return EncoderSpec(
            self.model_path or None, self.max_seq_length, self.batch_size, precision, self.runtime
        )


@contextlib.contextmanager
def ray_pool(params: RayBatchParams, n_rows: int) -> Iterator[ActorPool | None]:
    """Ray (in-process, or the cluster at RAY_ADDRESS) and its actor pool when `params`
    want Ray for `n_rows` rows; None for the single-process path."""
    if not params.wants_ray(n_rows):
        yield None
        return
    from spoiler_assets.models.ray_runtime import ray_session

    with ray_session():
        yield ActorPool.plan(params)


class _EmbedActor:
    """Holds one encoder for the actor's life; embeds a batch of texts per call."""

    def __init__(self, spec: EncoderSpec, threads: int, on_gpu: bool) -> None:
        from spoiler_assets.models import embeddings

        self.spec, self.threads, self.on_gpu = spec, threads, on_gpu
        if on_gpu:
            self.model = embeddings.load_encoder(replace(spec, runtime="torch"), "cuda")
        else:
            embeddings.limit_threads(threads)
            embeddings.load_onnx_encoder(spec, threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from spoiler_assets.models.embeddings import encode

        texts = [str(t) for t in batch["text"]]
        if self.on_gpu:
            vectors = self.model.encode(
                texts, batch_size=len(texts), normalize_embeddings=True, convert_to_numpy=True
            )
        else:
            vectors = encode(texts, self.spec, threads=self.threads)
        return {"row": batch["row"], "vector": np.asarray(vectors, dtype=np.float32)}


class _ScoreActor:
    """Holds one classifier for the actor's life; scores a batch of reviews per call."""

    def __init__(self, classifier: Any, score: Scorer, threads: int) -> None:
        import ray

        from spoiler_assets.models import embeddings

        embeddings.limit_threads(threads)
        model = ray.get(classifier) if isinstance(classifier, ray.ObjectRef) else classifier
        if "torch" in sys.modules:  # the classifier runs torch: as many threads as CPUs reserved
            sys.modules["torch"].set_num_threads(threads)
        self.model, self.score = model, score

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        rows = batch.pop("row").to_numpy()
        proba = np.asarray(self.score(self.model, batch.reset_index(drop=True)), dtype=np.float64)
        return pd.DataFrame({"row": rows, "proba": proba})


def encode_on_ray(
    texts: Sequence[str], spec: EncoderSpec, pool: ActorPool, progress: Progress | None = None
) -> np.ndarray:
    """`embeddings.encode` on a Ray Data actor pool: L2-normalised float32 rows in input order."""
    out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
    if not texts:
        return out
    if pool.gpus_per_actor and spec.precision != "fp32":
        raise ValueError(f"{spec.tag}: {spec.precision} vectors are made on CPUs; GPU actors make fp32")
    order = np.argsort([-len(t) for t in texts], kind="stable")
    frames = _blocks(pd.DataFrame({"row": order, "text": [texts[i] for i in order]}), pool.batch_size)
    args = {"spec": spec, "threads": pool.cpus_per_actor, "on_gpu": bool(pool.gpus_per_actor)}
    return _run_actors(pool, frames, (_EmbedActor, args, "numpy"), "vector", out, progress)


def predict_proba(classifier: Any, reviews: pd.DataFrame) -> np.ndarray:
    """The plain scorer: `classifier.predict_proba(reviews)`."""
    return np.asarray(classifier.predict_proba(reviews), dtype=np.float64)


def score_on_ray(
    classifier: Any,
    reviews: pd.DataFrame,
    pool: ActorPool,
    progress: Progress | None = None,
    score: Scorer = predict_proba,
) -> np.ndarray:
    """`score(classifier, reviews)` on a Ray Data actor pool (CPU actors: the champion is
    served on CPUs), one probability per review in input order. `score` must pickle by
    reference (a module-level function)."""
    import ray

    out = np.zeros(len(reviews), dtype=np.float64)
    if reviews.empty:
        return out
    frames = _blocks(reviews.reset_index(drop=True).assign(row=np.arange(len(reviews))), pool.batch_size)
    args = {"classifier": ray.put(classifier), "score": score, "threads": pool.cpus_per_actor}
    cpu_pool = replace(pool, gpus_per_actor=0)  # the champion is served on CPUs
    return _run_actors(cpu_pool, frames, (_ScoreActor, args, "pandas"), "proba", out, progress)


def score_reviews(
    classifier: Any,
    reviews: pd.DataFrame,
    params: RayBatchParams = RayBatchParams(),
    progress: Progress | None = None,
    score: Scorer = predict_proba,
) -> tuple[np.ndarray, str]:
    """`score(classifier, reviews)` on Ray Data CPU actors when `params` want Ray for this
    many reviews, else in this process; returns the scores and where they ran."""
    with ray_pool(replace(params, use_gpu=False), len(reviews)) as pool:
        if pool is None:
            scores = score(classifier, reviews) if len(reviews) else np.zeros(0)
            return np.asarray(scores, dtype=np.float64), "this process"
        return score_on_ray(classifier, reviews, pool, progress, score), pool.describe()


def _run_actors(
    pool: ActorPool,
    frames: list[pd.DataFrame],
    actor: tuple[type, dict[str, Any], str],
    column: str,
    out: np.ndarray,
    progress: Progress | None,
) -> np.ndarray:
    """`frames` (one block per batch) through `pool`'s actors; each result's `column`
    lands at its `row` of `out`, reported as results stream in.

    `actor`: the actor class, its constructor's arguments, and the batch format it takes."""
    import ray.data

    actor_class, actor_args, batch_format = actor
    dataset = ray.data.from_pandas(frames).map_batches(
        actor_class,
        fn_constructor_kwargs=actor_args,
        batch_size=pool.batch_size,
        batch_format=batch_format,
        compute=ray.data.ActorPoolStrategy(size=pool.actors),
        num_cpus=pool.cpus_per_actor,
        num_gpus=pool.gpus_per_actor,
    )
    report = _Reporter(len(out), progress)
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        out[batch["row"]] = batch[column]
        report.add(len(batch["row"]))
    report.done()
    return out


def _blocks(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    # One Ray Data block per batch: blocks are what the actor pool hands out.
    return [frame.iloc[start : start + size] for start in range(0, len(frame), size)]


class _Reporter:
    """Calls `progress` every `_REPORT_EVERY` rows and at the end."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.progress, self.count, self.reported = total, progress, 0, 0
        self.started = time.perf_counter()

    def add(self, n: int) -> None:
        self.count += n
        if self.count - self.reported >= _REPORT_EVERY:
            self.done()

    def done(self) -> None:
        if self.progress is not None and self.count > self.reported:
            self.progress(self.count, self.total, time.perf_counter() - self.started)
        self.reported = self.count
