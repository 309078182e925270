"""Resume through Dagster: a training step that fails after a saved epoch is retried by
its retry policy, then the run is re-executed from failure, and each attempt restarts at
the saved epoch instead of from scratch (Ray runs are keyed by the root run id).

A tiny random BERT on a few dozen reviews: this tests the plumbing, not the model."""

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import ray
from mlflow import MlflowClient
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from spoiler_assets.assets.transformer import transformer_model
from spoiler_assets.models.transformer_loop import PACKAGED_MINILM, resolve_checkpoint
from spoiler_assets.resources.locations import ReviewSourceResource
from spoiler_assets.resources.ray_storage import RayStorageResource
from spoiler_assets.resources.tracking import MlflowTrackingResource
from spoiler_assets_tests.faults import fail_checkpoints_after_first_epoch

pytestmark = pytest.mark.slow


def _reviews(n: int, offset: int, split: str) -> pd.DataFrame:
    rows = range(offset, offset + n)
    texts = [
        f"review {i}: " + ("the killer dies at the end." if i % 3 == 0 else "a lovely cast.") for i in rows
    ]
    return pd.DataFrame({"review_text": texts, "is_spoiler": [i % 3 == 0 for i in rows], "split": split})


@dg.asset(name="review_split")
def small_review_split() -> pd.DataFrame:
    return pd.concat([_reviews(32, 0, "train"), _reviews(18, 100, "valid")], ignore_index=True)


def resume_job(root: str) -> dg.JobDefinition:
    """The job under test, rebuilt by Dagster for the re-execution (reconstructable)."""
    folder = Path(root)
    defs = dg.Definitions(
        assets=[small_review_split, transformer_model],
        jobs=[dg.define_asset_job("resume_job")],
        resources={
            "mlflow_tracking": MlflowTrackingResource(
                tracking_uri=f"sqlite:///{folder / 'mlflow.db'}", artifact_location=str(folder / "artifacts")
            ),
            "review_source": ReviewSourceResource(base_uri=str(folder / "source")),
            "ray_storage": RayStorageResource(base_uri=str(folder / "ray_results")),
        },
        executor=dg.in_process_executor,
    )
    return defs.resolve_job_def("resume_job")


@pytest.fixture
def faulty_ray(tmp_path: Path) -> Iterator[Path]:
    """Ray whose workers fail the checkpoint after epoch 1 twice: once in the first step
    attempt, once in its retry. The asset finds Ray running and uses it."""
    records = tmp_path / "records"
    records.mkdir()
    where = str(records)

    def hook() -> None:  # Ray runs it in every worker process it starts
        fail_checkpoints_after_first_epoch(where, 2)

    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"worker_process_setup_hook": hook})
    try:
        yield records
    finally:
        ray.shutdown()


def _tiny_checkpoint(folder: Path) -> str:
    tokenizer = AutoTokenizer.from_pretrained(resolve_checkpoint(PACKAGED_MINILM), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64,
    )  # fmt: skip
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def _saves(records: Path) -> list[str]:
    return sorted("-".join(p.name.split("-")[:4]) for p in records.glob("save-*"))


def test_failed_training_step_resumes_at_the_saved_epoch_on_retry_and_reexecution(
    faulty_ray: Path, tmp_path: Path
) -> None:
    config: dict[str, Any] = {
        "checkpoint": _tiny_checkpoint(tmp_path / "tiny_bert"), "epochs": 2, "batch_size": 8,
        "max_length": 32, "sample_fraction": 1.0, "patience": 3, "use_gpu": "false", "max_failures": 0,
    }  # fmt: skip
    job = dg.build_reconstructable_job(__name__, "resume_job", reconstructable_args=(str(tmp_path),))
    run_config = {"ops": {"transformer_model": {"config": config}}}

    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        with dg.execute_job(job, instance, run_config=run_config) as first:
            assert not first.success
            retried = [e for e in first.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
            assert len(retried) == 1  # the retry policy ran the step again in the same run
        # Attempt 1 trained epochs 1 and 2 (checkpoint 2 failed); its retry restarted at
        # the saved epoch 1 and failed at epoch 2 again.
        assert _saves(faulty_ray) == ["save-1-from-0", "save-2-from-0", "save-2-from-1"]

        options = dg.ReexecutionOptions.from_failure(first.run_id, instance)
        with dg.execute_job(job, instance, reexecution_options=options) as second:
            assert second.success
            assert second.dagster_run.root_run_id == first.run_id
        model = pickle.loads((Path(instance.storage_directory()) / "transformer_model").read_bytes())

    # The re-execution restarted at the saved epoch too, and finished.
    assert _saves(faulty_ray) == ["save-1-from-0", "save-2-from-0", "save-2-from-1", "save-2-from-1"]
    history = model.classifier.training.history
    assert [(row["epoch"], row["start_epoch"]) for row in history] == [(1, 0), (2, 1)]
    run = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").get_run(model.run_id)
    assert run.data.tags["dagster_root_run_id"] == first.run_id
