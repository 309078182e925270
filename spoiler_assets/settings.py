"""The one place that reads the environment and picks embedded default or production.

Everything else receives a `Settings` (or resources built from it). Nothing here runs
at import time: call `Settings.from_env()` when definitions are loaded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from spoiler_assets.data.lines import DEFAULT_MAX_LINE_BYTES

# First months of the synthetic corpus and of the real Kaggle dataset (its first review
# is from 1998). Partitions run on to the current month unless SPOILER_LAST_MONTH is set,
# so months that land later have a partition to go to.
SYNTHETIC_FIRST_MONTH = "2014-01"
SYNTHETIC_LAST_MONTH = "2017-12"  # last month the demo corpus generates
KAGGLE_FIRST_MONTH = "1998-01"

DEFAULT_MODEL_NAME = "spoiler-shield"
DEFAULT_FEAST_PROJECT = "spoiler_shield"
# The Feast definitions (declarative only) at the top of the repository.
DEFAULT_FEATURE_REPO = Path(__file__).resolve().parents[1] / "feature_repo"


ENDPOINTS_AND_SECRETS = ("AWS_ENDPOINT_URL", "MLFLOW_TRACKING_URI", "REDIS_URL")

# Every model asset that can compete for champion; SPOILER_MODELS picks among them.
MODEL_ASSETS = ("baseline_model", "xgboost_model", "mlp_model", "transformer_model")
# Out of the default selection where no GPU is present, each with the reason that
# model_comparison shows (issue 10: ROC-AUC 0.536 on the demo corpus, 0.61 on real reviews).
CPU_LEFT_OUT = {
    "transformer_model": (
        "on CPU its default fine-tuning budget stays near chance (ROC-AUC 0.536 on the demo"
        " SYNTHETIC corpus); set SPOILER_MODELS to include it, or run where a GPU is present"
    ),
}


@dataclass(frozen=True)
class Settings:
    """Where data, models and runs live, and which services are used."""

    data_dir: Path
    source_uri: str
    first_month: str
    last_month: str | None
    s3_bucket: str | None
    s3_prefix: str
    s3_endpoint_url: str | None
    mlflow_tracking_uri: str
    model_name: str
    max_bad_line_share: float
    redis_url: str | None = None
    feature_repo_dir: Path = DEFAULT_FEATURE_REPO
    feast_project: str = DEFAULT_FEAST_PROJECT
    landing_uri: str = ""
    sensor_interval_s: int = 60
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    models: tuple[str, ...] = MODEL_ASSETS
    """Model assets that compete for champion (SPOILER_MODELS): the inputs of
    model_comparison, so the models that champion_job trains. The others stay in the
    definitions and can be materialized by hand."""
    left_out: Mapping[str, str] = field(default_factory=dict)
    """Each model asset outside `models`, with why it is out (model_comparison shows it)."""
    # Endpoints and secrets read from this process's environment (not from a mapping
    # passed in): resources then take them as `dg.EnvVar`, so Dagster shows the variable's
    # name, not its value, and resolves it where the run executes.
    from_process_env: frozenset[str] = frozenset()

    @property
    def uses_s3(self) -> bool:
        """Production asset storage: S3 (any S3-compatible endpoint) instead of local disk."""
        return self.s3_bucket is not None

    @property
    def uses_default_source(self) -> bool:
        """True when the source is the generated synthetic corpus of the embedded default."""
        return self.source_uri == str(self.default_source_dir)

    @property
    def default_source_dir(self) -> Path:
        return self.data_dir / "synthetic_corpus"

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "storage"

    @property
    def mlflow_artifact_dir(self) -> Path:
        return self.data_dir / "mlartifacts"

    @property
    def feature_store_dir(self) -> Path:
        """Local home of the Feast registry, SQLite online store and (embedded) sources."""
        return self.data_dir / "feature_store"

    @property
    def feature_store_uri(self) -> str:
        """Where the Feast offline sources (parquet) and registry live: disk or S3."""
        if self.uses_s3:
            return f"s3://{self.s3_bucket}/{self.s3_prefix}/feature_store"
        return str(self.feature_store_dir)

    @property
    def uses_local_mlflow(self) -> bool:
        return self.mlflow_tracking_uri.startswith("sqlite:")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, gpu: bool | None = None) -> Settings:
        """Read the settings from `environ` (default: the process environment).

        Variables (all optional):
            SPOILER_DATA_DIR: local data directory (default `./.spoiler_data`).
            SPOILER_SOURCE: folder or `s3://bucket/prefix` holding `IMDB_reviews.json` and
                `IMDB_movie_details.json` (default: the synthetic corpus in the data dir).
            SPOILER_FIRST_MONTH / SPOILER_LAST_MONTH: `YYYY-MM` bounds of the monthly
                review partitions (first month follows the source; open-ended by default).
            SPOILER_S3_BUCKET, SPOILER_S3_PREFIX, AWS_ENDPOINT_URL: asset storage on S3.
            MLFLOW_TRACKING_URI: an MLflow server (default: SQLite file in the data dir).
            SPOILER_MODEL_NAME: registered model name (default `spoiler-shield`).
            SPOILER_MAX_BAD_LINE_SHARE: share of unparseable lines tolerated (default 0.01).
            SPOILER_MAX_LINE_BYTES: a longer source line is quarantined, read without
                holding it whole (default 1048576, 1 MiB).
            SPOILER_LANDING_URI: folder or s3:// prefix where new review files land
                (default: `landing` in the data dir, or under the S3 prefix).
            SPOILER_SENSOR_INTERVAL_S: seconds between sensor ticks (default 60).
            REDIS_URL: Feast online store on Redis, e.g. `redis://host:6379/0` (default:
                a SQLite file in the data dir).
            SPOILER_FEATURE_REPO: folder of the Feast definitions (default `feature_repo/`).
            SPOILER_FEAST_PROJECT: Feast project name (default `spoiler_shield`).
            SPOILER_MODELS: comma-separated model assets that compete for champion, from
                baseline_model, xgboost_model, mlp_model, transformer_model (default: all
                but transformer_model, which joins them when a GPU is present).

        A variable set to an empty value counts as unset: its default applies.
        `gpu` says whether a GPU is present (default: ask torch, only when SPOILER_MODELS
        is unset).
        """
        env = {k: v for k, v in (os.environ if environ is None else environ).items() if v.strip()}
        data_dir = Path(env.get("SPOILER_DATA_DIR", ".spoiler_data")).resolve()
        default_source = str(data_dir / "synthetic_corpus")
        source = env.get("SPOILER_SOURCE") or default_source
        is_default = source == default_source
        first = env.get("SPOILER_FIRST_MONTH") or (
            SYNTHETIC_FIRST_MONTH if is_default else KAGGLE_FIRST_MONTH
        )
        last = env.get("SPOILER_LAST_MONTH") or None
        models, left_out = select_models(env.get("SPOILER_MODELS"), gpu)
        return cls(
            data_dir=data_dir,
            source_uri=source,
            first_month=_check_month(first, "SPOILER_FIRST_MONTH"),
            last_month=_check_month(last, "SPOILER_LAST_MONTH") if last else None,
            s3_bucket=env.get("SPOILER_S3_BUCKET") or None,
            s3_prefix=env.get("SPOILER_S3_PREFIX", "spoiler-shield"),
            s3_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            mlflow_tracking_uri=env.get("MLFLOW_TRACKING_URI") or f"sqlite:///{data_dir / 'mlflow.db'}",
            model_name=env.get("SPOILER_MODEL_NAME", DEFAULT_MODEL_NAME),
            max_bad_line_share=float(env.get("SPOILER_MAX_BAD_LINE_SHARE", "0.01")),
            landing_uri=env.get("SPOILER_LANDING_URI") or _landing_default(env, data_dir),
            sensor_interval_s=int(env.get("SPOILER_SENSOR_INTERVAL_S", "60")),
            max_line_bytes=int(env.get("SPOILER_MAX_LINE_BYTES", str(DEFAULT_MAX_LINE_BYTES))),
            redis_url=env.get("REDIS_URL") or None,
            feature_repo_dir=Path(env.get("SPOILER_FEATURE_REPO") or DEFAULT_FEATURE_REPO).resolve(),
            feast_project=env.get("SPOILER_FEAST_PROJECT") or DEFAULT_FEAST_PROJECT,
            models=models,
            left_out=left_out,
            from_process_env=frozenset(n for n in ENDPOINTS_AND_SECRETS if environ is None and env.get(n)),
        )


def select_models(value: str | None, gpu: bool | None = None) -> tuple[tuple[str, ...], dict[str, str]]:
    """The competing model assets and why each other one is out, from SPOILER_MODELS's
    `value` (None: the default for this machine, with or without a `gpu`)."""
    if value is None:
        left_out = {} if (_gpu_present() if gpu is None else gpu) else dict(CPU_LEFT_OUT)
        return tuple(m for m in MODEL_ASSETS if m not in left_out), left_out
    named = {name.strip() for name in value.split(",")} - {""}
    choices = f"choose from {', '.join(MODEL_ASSETS)}"
    if not named:
        raise ValueError(f"SPOILER_MODELS names no model asset ({value!r}); {choices}")
    unknown = sorted(named - set(MODEL_ASSETS))
    if unknown:
        raise ValueError(f"SPOILER_MODELS: unknown model asset(s) {', '.join(unknown)}; {choices}")
    left_out = {m: "not in SPOILER_MODELS" for m in MODEL_ASSETS if m not in named}
    return tuple(m for m in MODEL_ASSETS if m in named), left_out


def _gpu_present() -> bool:
    import torch  # here, not at import: the definitions ask once, when they are built

    return bool(torch.cuda.is_available())


def _landing_default(env: Mapping[str, str], data_dir: Path) -> str:
    bucket = env.get("SPOILER_S3_BUCKET")
    if bucket:
        return f"s3://{bucket}/{env.get('SPOILER_S3_PREFIX', 'spoiler-shield')}/landing"
    return str(data_dir / "landing")


def _check_month(value: str, name: str) -> str:
    parts = value.split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or not 1 <= int(parts[1]) <= 12:
        raise ValueError(f"{name} must look like YYYY-MM, got {value!r}")
    return value
