"""An ingestion-to-cleaning job on S3 whose endpoint goes down mid-run.

`execute_job` and re-execution from failure take a reconstructable job, so the job is
built here, by a module-level function, from the real assets and resources. A success
hook stops the endpoint once, after the step a test has armed it for: the outage falls
between two steps of one run, at the same point every time. Steps run one at a time in
key order (`movie_details`, `raw_reviews`, `cleaned_reviews`).
"""

from collections.abc import Callable
from pathlib import Path

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob

from spoiler_assets.assets.ingestion import build_raw_reviews, movie_details
from spoiler_assets.assets.preparation import cleaned_reviews
from spoiler_assets.partitions import review_months
from spoiler_assets.resources.environment import build_resources
from spoiler_assets_tests.helpers import corpus_settings

JOB_NAME = "ingest_and_clean_job"
FIRST_MONTH, LAST_MONTH = "2016-01", "2016-12"
# The step after which the hook stops the endpoint, and how; set by a test, used once.
_ARMED: dict[str, Callable[[], None]] = {}


def arm_outage(after_step: str, stop_endpoint: Callable[[], None]) -> None:
    _ARMED.clear()
    _ARMED[after_step] = stop_endpoint


@dg.success_hook
def endpoint_outage(context: dg.HookContext) -> None:
    stop = _ARMED.pop(context.op.name, None)
    if stop is not None:
        context.log.warning(f"stopping the S3 endpoint after {context.op.name} (fault injected by a test)")
        stop()


def outage_job(data_dir: str, source: str, bucket: str, endpoint: str) -> dg.JobDefinition:
    """raw_reviews (every month, one run) and movie_details -> cleaned_reviews, stored on S3."""
    settings = corpus_settings(
        Path(data_dir),
        source,
        FIRST_MONTH,
        LAST_MONTH,
        SPOILER_S3_BUCKET=bucket,
        SPOILER_S3_PREFIX="assets",
        AWS_ENDPOINT_URL=endpoint,
        # Landing zone on disk: the outage then meets raw_reviews when it stores its months.
        SPOILER_LANDING_URI=str(Path(data_dir) / "landing"),
    )
    job = dg.define_asset_job(
        JOB_NAME,
        selection=dg.AssetSelection.assets("cleaned_reviews").upstream(),
        hooks={endpoint_outage},
    )
    defs = dg.Definitions(
        assets=[build_raw_reviews(review_months(settings)), movie_details, cleaned_reviews],
        jobs=[job],
        resources=build_resources(settings),
        # One process: the hook stops the endpoint that this test process serves.
        executor=dg.in_process_executor,
    )
    return defs.resolve_job_def(JOB_NAME)


def reconstructable_outage_job(
    data_dir: Path, source: Path, bucket: str, endpoint: str
) -> ReconstructableJob:
    return dg.build_reconstructable_job(
        __name__,
        outage_job.__name__,
        reconstructable_kwargs={
            "data_dir": str(data_dir),
            "source": str(source),
            "bucket": bucket,
            "endpoint": endpoint,
        },
    )
