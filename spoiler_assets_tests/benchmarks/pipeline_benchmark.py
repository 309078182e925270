"""Benchmark: the full-size SYNTHETIC corpus through raw -> cleaned -> split -> baseline.

Prints wall time and peak resident memory per asset, measured in this process (the
in-process executor), plus the run's total. Targets on a 2-core machine: the whole path
under 10 minutes and under 6 GB peak memory. Not a test: it prints figures.

    make benchmark            # or: python -m spoiler_assets_tests.benchmarks.pipeline_benchmark [--reviews N]
"""

import argparse
import resource
import tempfile
import threading
import time
from pathlib import Path

import dagster as dg
import psutil
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from spoiler_assets.data.synthetic import CorpusSpec, generate_corpus
from spoiler_assets.definitions import build_definitions
from spoiler_assets.settings import SYNTHETIC_FIRST_MONTH, Settings

PATH = ["raw_reviews", "movie_details", "cleaned_reviews", "review_split", "baseline_model"]


class PeakSampler(threading.Thread):
    """Samples this process's RSS every 50 ms, keeping (time, rss) pairs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, int]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        process = psutil.Process()
        while not self.stopped.is_set():
            self.samples.append((time.time(), process.memory_info().rss))
            time.sleep(0.05)

    def peak(self, start: float, end: float) -> int:
        return max((rss for t, rss in self.samples if start <= t <= end), default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reviews", type=int, default=573_913)
    parser.add_argument("--movies", type=int, default=1_572)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the corpus here between runs")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="spoiler-bench-"))
    corpus_dir = workdir / f"corpus-{args.reviews}"
    if not (corpus_dir / "SYNTHETIC_CORPUS.json").exists():
        started = time.perf_counter()
        generate_corpus(corpus_dir, CorpusSpec(n_reviews=args.reviews, n_movies=args.movies, seed=11))
        print(
            f"generated SYNTHETIC corpus: {args.reviews:,} reviews in {time.perf_counter() - started:.0f}s (not timed below)"
        )
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    settings = Settings.from_env(
        {
            "SPOILER_DATA_DIR": str(run_dir),
            "SPOILER_SOURCE": str(corpus_dir),
            "SPOILER_FIRST_MONTH": SYNTHETIC_FIRST_MONTH,

        }
    )
    defs = build_definitions(settings)
    months = defs.resolve_assets_def("raw_reviews").partitions_def
    assert months is not None
    keys = months.get_partition_keys()

    sampler = PeakSampler()
    sampler.start()
    started = time.time()
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=[dg.AssetKey(k) for k in PATH],
        instance=instance,
        tags={ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]},
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
    )
    total = time.time() - started
    sampler.stopped.set()

    entries = [e for e in instance.all_logs(result.run_id) if e.dagster_event is not None]
    starts = {e.step_key: e.timestamp for e in entries if e.dagster_event.event_type_value == "STEP_START"}
    ends = {e.step_key: e.timestamp for e in entries if e.dagster_event.event_type_value == "STEP_SUCCESS"}
    print(
        f"\nSYNTHETIC corpus, {args.reviews:,} reviews, {len(keys)} review months, {psutil.cpu_count()} CPUs"
    )
    print(f"{'asset':<18}{'wall s':>9}{'peak RSS GB':>13}")
    for step in PATH:
        wall = ends[step] - starts[step]
        print(f"{step:<18}{wall:>9.1f}{sampler.peak(starts[step], ends[step]) / 1e9:>13.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    print(f"{'whole path':<18}{total:>9.1f}{peak:>13.2f}   (targets: < 600 s, < 6 GB)")
    print(
        f"baseline validation PR-AUC: {result.asset_materializations_for_node('baseline_model')[0].metadata['valid_pr_auc'].value:.4f} (SYNTHETIC)"
    )


if __name__ == "__main__":
    main()
