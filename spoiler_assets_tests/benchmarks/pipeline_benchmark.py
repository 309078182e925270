"""Benchmark: the full-size SYNTHETIC corpus through raw -> cleaned -> split -> baseline.

Each asset runs in its own process, as Dagster's default multiprocess executor runs each
step, reading its inputs from and writing its output to the same local IO-manager storage.
Printed per asset: wall time and the process's peak resident memory. Targets on a 2-core
machine: the whole path under 10 minutes and under 6 GB peak memory. Not a test.
`make benchmark` runs the whole champion lineage instead (`lineage_benchmark`).

    python -m spoiler_assets_tests.benchmarks.pipeline_benchmark [--reviews N]
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

from spoiler_assets.data.synthetic import CorpusSpec, generate_corpus
from spoiler_assets.definitions import build_definitions
from spoiler_assets.partitions import all_months_tags
from spoiler_assets.settings import SYNTHETIC_FIRST_MONTH, Settings

PATH = ["raw_reviews", "movie_details", "cleaned_reviews", "review_split", "baseline_model"]


def _settings(run_dir: Path, corpus_dir: Path) -> Settings:
    return Settings.from_env(
        {
            "SPOILER_DATA_DIR": str(run_dir),
            "SPOILER_SOURCE": str(corpus_dir),
            "SPOILER_FIRST_MONTH": SYNTHETIC_FIRST_MONTH,
        }
    )


def run_one(asset: str, run_dir: Path, corpus_dir: Path) -> None:
    """Materialize one asset (all months for raw_reviews) and print wall time and peak RSS."""
    defs = build_definitions(_settings(run_dir, corpus_dir))
    months = defs.resolve_assets_def("raw_reviews").partitions_def
    assert months is not None
    tags = all_months_tags(months) if asset == "raw_reviews" else {}
    started = time.perf_counter()
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=[dg.AssetKey(asset)],
        instance=dg.DagsterInstance.ephemeral(),
        tags=tags,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    wall = time.perf_counter() - started
    metadata = {k: v.value for k, v in result.asset_materializations_for_node(asset)[-1].metadata.items()}
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    extra = {k: metadata[k] for k in ("rows", "valid_pr_auc", "train_rows") if k in metadata}
    print(json.dumps({"asset": asset, "wall_s": wall, "peak_gb": peak_gb, **extra}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reviews", type=int, default=573_913)
    parser.add_argument("--movies", type=int, default=1_572)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the corpus here between runs")
    parser.add_argument("--one", nargs=3, metavar=("ASSET", "RUN_DIR", "CORPUS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one[0], Path(args.one[1]), Path(args.one[2]))
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="spoiler-bench-"))
    corpus_dir = workdir / f"corpus-{args.reviews}"
    if not (corpus_dir / "SYNTHETIC_CORPUS.json").exists():
        started = time.perf_counter()
        generate_corpus(corpus_dir, CorpusSpec(n_reviews=args.reviews, n_movies=args.movies, seed=11))
        print(
            f"generated SYNTHETIC corpus: {args.reviews:,} reviews"
            f" in {time.perf_counter() - started:.0f}s (not timed below)"
        )
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    rows = []
    for asset in PATH:
        out = subprocess.run(
            [sys.executable, "-m", __spec__.name, "--one", asset, str(run_dir), str(corpus_dir)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"\nSYNTHETIC corpus (not IMDB data), {args.reviews:,} reviews, 2-core CPU, one process per asset")
    print(f"{'asset':<18}{'wall s':>9}{'peak RSS GB':>13}")
    for row in rows:
        print(f"{row['asset']:<18}{row['wall_s']:>9.1f}{row['peak_gb']:>13.2f}")
    total = sum(r["wall_s"] for r in rows)
    peak = max(r["peak_gb"] for r in rows)
    print(f"{'whole path':<18}{total:>9.1f}{peak:>13.2f}   (targets: < 600 s, < 6 GB)")
    baseline = rows[-1]
    print(
        f"baseline: {baseline.get('train_rows', 0):,} training reviews,"
        f" validation PR-AUC {baseline.get('valid_pr_auc', 0):.4f} (SYNTHETIC)"
    )


if __name__ == "__main__":
    main()
