"""Benchmark: landing one month on top of the full-size SYNTHETIC history.

The SYNTHETIC corpus (573,913 reviews by default, 2014-01..2017-12) is the source; the
initial load materializes `raw_reviews` for every month in one run (which also writes
the landing zone's month index). Then a file of `--landed` reviews dated in January 2018
(a new month) lands, or with `--late` in June 2017 (late reviews of a month the source
holds, which must read the source again), and `raw_reviews` runs for that one month, as
the landing sensor's run does:
with the current code ("after") and, given `--before`, with an earlier copy of
`spoiler_assets/assets/ingestion.py` ("before", which re-reads the source file and every
landed file). Each step runs in its own process; printed: wall time, the process's
peak resident memory and its resident memory before the run (imports). Not a test.

    git show <rev>:spoiler_assets/assets/ingestion.py > /tmp/ingestion_before.py
    python -m spoiler_assets_tests.benchmarks.landing_benchmark \\
        [--reviews N] [--landed 2000] [--late] [--workdir DIR] [--before /tmp/ingestion_before.py]
"""

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from spoiler_assets.assets.ingestion import build_raw_reviews
from spoiler_assets.data.kaggle import REVIEWS_FILE
from spoiler_assets.data.synthetic import CorpusSpec, generate_corpus
from spoiler_assets.partitions import all_months_tags, review_months
from spoiler_assets.resources.environment import build_resources
from spoiler_assets.settings import SYNTHETIC_FIRST_MONTH, Settings

LAST_MONTH = "2018-01"
NEW_MONTH = ("2018-01-01", "15 January 2018")
LATE_MONTH = ("2017-06-01", "15 June 2017")


def _settings(run_dir: Path, corpus_dir: Path) -> Settings:
    return Settings.from_env(
        {
            "SPOILER_DATA_DIR": str(run_dir),
            "SPOILER_SOURCE": str(corpus_dir),
            "SPOILER_FIRST_MONTH": SYNTHETIC_FIRST_MONTH,
            "SPOILER_LAST_MONTH": LAST_MONTH,
            "SPOILER_LANDING_URI": str(run_dir / "landing"),
        }
    )


def _builder(
    step: str, before: str | None
) -> Callable[[dg.MonthlyPartitionsDefinition], dg.AssetsDefinition]:
    if step != "before":
        return build_raw_reviews
    assert before, "--before PATH is needed for the before step"
    spec = importlib.util.spec_from_file_location("ingestion_before", before)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_raw_reviews


def run_one(step: str, run_dir: Path, corpus_dir: Path, before: str | None, month: str) -> None:
    """One step ("initial", "before" or "after") in this process; prints wall time and peak RSS."""
    rss_before_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    settings = _settings(run_dir, corpus_dir)
    months = review_months(settings)
    asset = _builder(step, before)(months)
    kwargs: dict[str, object] = (
        {"tags": all_months_tags(months)} if step == "initial" else {"partition_key": month}
    )
    started = time.perf_counter()
    result = dg.materialize([asset], resources=build_resources(settings), **kwargs)  # type: ignore[arg-type]
    wall = time.perf_counter() - started
    meta = {k: v.value for k, v in result.asset_materializations_for_node("raw_reviews")[0].metadata.items()}
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    shown = ("rows", "lines_read", "files_read", "landed_files_read")
    shown_meta = {k: meta[k] for k in shown if k in meta}
    print(
        json.dumps(
            {"step": step, "wall_s": wall, "peak_gb": peak_gb, "rss_before_gb": rss_before_gb, **shown_meta}
        )
    )


def _land(corpus_dir: Path, landing: Path, n: int, day: str) -> None:
    """`n` reviews of the corpus, re-dated into the landed month, as one landed file."""
    landing.mkdir(parents=True, exist_ok=True)
    lines = []
    with (corpus_dir / REVIEWS_FILE).open() as source:
        for line, _ in zip(source, range(n), strict=False):
            lines.append(json.dumps({**json.loads(line), "review_date": day}))
    (landing / "landed.json").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reviews", type=int, default=573_913)
    parser.add_argument("--movies", type=int, default=1_572)
    parser.add_argument("--landed", type=int, default=2_000, help="reviews in the landed file")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the corpus here between runs")
    parser.add_argument("--before", default=None, help="an earlier ingestion.py to measure as 'before'")
    parser.add_argument("--late", action="store_true", help="land reviews of a month the source holds")
    parser.add_argument("--one", nargs=3, metavar=("STEP", "RUN_DIR", "CORPUS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    month, day = LATE_MONTH if args.late else NEW_MONTH
    if args.one:
        run_one(args.one[0], Path(args.one[1]), Path(args.one[2]), args.before, month)
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="spoiler-landing-bench-"))
    corpus_dir = workdir / f"corpus-{args.reviews}"
    if not (corpus_dir / "SYNTHETIC_CORPUS.json").exists():
        generate_corpus(corpus_dir, CorpusSpec(n_reviews=args.reviews, n_movies=args.movies, seed=11))
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    _land(corpus_dir, run_dir / "landing", args.landed, day)
    rows = []
    for step in ["initial", *(["before"] if args.before else []), "after"]:
        command = [sys.executable, "-m", __spec__.name, "--one", step, str(run_dir), str(corpus_dir)]
        command += (["--before", args.before] if args.before else []) + (["--late"] if args.late else [])
        out = subprocess.run(command,
                             check=True, capture_output=True, text=True)  # fmt: skip
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    print(
        f"\nSYNTHETIC corpus (not IMDB data), {args.reviews:,} reviews;"
        f" one landed file of {args.landed:,} reviews for {month[:7]}"
    )
    print(f"{'step':<10}{'wall s':>9}{'peak RSS GB':>13}{'RSS at start GB':>17}{'lines read':>12}")
    for row in rows:
        print(
            f"{row['step']:<10}{row['wall_s']:>9.1f}{row['peak_gb']:>13.2f}"
            f"{row['rss_before_gb']:>17.2f}{row.get('lines_read', 0):>12,}"
        )


if __name__ == "__main__":
    main()
