"""Benchmark: the champion lineage on a full-size SYNTHETIC corpus, per asset.

Every asset upstream of `champion_model` (raw months, cleaning, split, the Feast sources,
registry, online store and training set, embeddings, every competing model, the
comparison and the promotion gate) runs in its own process, forked from this one after
the package is imported (as the production executor forks each step from a server),
reading its inputs from and writing its output to one local IO-manager storage.
Printed per asset: wall time of its run, the process's peak resident memory, and the
peak summed over its process tree (Ray workers included; shared pages counted once per
process), polled. The machine's cores and load average at start and end go with them.

Embeddings on a 2-core CPU run at about 30-80 reviews/s, so the full corpus takes hours.
With `--embed-sample N` (N below `--reviews`), the assets that read embeddings or encode
review texts (`review_embeddings`, the hybrid models, the transformer, the comparison,
which scores every model on the valid and test reviews, and the gate) run on a seeded
sample of N reviews of the same corpus instead: its cheap prerequisites run first in one
process, shown as one row. Models compete as the definitions say (`SPOILER_MODELS`,
passed through); budgets are the assets' defaults, or the test suite's lean ones with
`--lean`. Figures are also written as JSON under `--out` (default: the work folder).
Not a test.

    make benchmark ARGS="--reviews 4000 --embed-sample 1000 --lean"
    python -m spoiler_assets_tests.benchmarks.lineage_benchmark [--reviews N] [--embed-sample N]
        [--lean] [--workdir DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import resource
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import psutil

from spoiler_assets.data.formats import DETAILS_FILE, REVIEWS_FILE, SYNTHETIC_MARKER
from spoiler_assets.data.synthetic import CorpusSpec, generate_corpus
from spoiler_assets.definitions import build_definitions
from spoiler_assets.partitions import all_months_tags
from spoiler_assets.settings import SYNTHETIC_FIRST_MONTH, SYNTHETIC_LAST_MONTH, Settings
from spoiler_assets_tests.helpers import LEAN_CHAMPION

FULL_SIZE = 573_913
TARGET = "champion_model"
# Assets whose cost grows with what is embedded or encoded: they run on the sample.
TEXT_ENCODING_ROOTS = ("review_embeddings", "transformer_model")
# Metadata worth a glance next to the figures.
SHOWN = ("rows", "reviews", "encoded_now", "ran_on", "train_rows", "valid_pr_auc", "winner")
GB = 1e9


def _settings(run_dir: Path, corpus_dir: Path) -> Settings:
    env = {
        "SPOILER_DATA_DIR": str(run_dir),
        "SPOILER_SOURCE": str(corpus_dir),
        "SPOILER_FIRST_MONTH": SYNTHETIC_FIRST_MONTH,
        "SPOILER_LAST_MONTH": SYNTHETIC_LAST_MONTH,
    }
    if os.environ.get("SPOILER_MODELS"):
        env["SPOILER_MODELS"] = os.environ["SPOILER_MODELS"]
    return Settings.from_env(env)


def lineage(defs: dg.Definitions) -> tuple[list[str], set[str]]:
    """Every asset upstream of the champion in run order, and those that encode texts."""
    graph = defs.resolve_asset_graph()
    keys = dg.AssetSelection.assets(TARGET).upstream().resolve(graph)
    ordered = [k.to_user_string() for k in graph.toposorted_asset_keys if k in keys]
    roots = [r for r in TEXT_ENCODING_ROOTS if r in ordered]
    encoding = dg.AssetSelection.assets(*roots).downstream().resolve(graph) if roots else set()
    return ordered, {k.to_user_string() for k in encoding & keys}


def _run_config(assets: list[str], lean: bool) -> dict[str, Any]:
    ops = {k: v for k, v in LEAN_CHAMPION["ops"].items() if k in assets} if lean else {}
    return {"ops": ops, "loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def materialize(assets: list[str], run_dir: Path, corpus_dir: Path, lean: bool) -> dict[str, Any]:
    """Run `assets` (all review months) in this process; wall time, peak RSS, metadata."""
    rss_start = psutil.Process().memory_info().rss
    defs = build_definitions(_settings(run_dir, corpus_dir))
    months = defs.resolve_assets_def("raw_reviews").partitions_def
    assert months is not None
    partitioned = any(defs.resolve_assets_def(a).partitions_def is not None for a in assets)
    started = time.perf_counter()
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=[dg.AssetKey(a) for a in assets],
        instance=dg.DagsterInstance.ephemeral(),
        tags=all_months_tags(months) if partitioned else {},
        run_config=_run_config(assets, lean),
        raise_on_error=False,
    )
    row: dict[str, Any] = {
        "wall_s": time.perf_counter() - started,
        "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB,
        "rss_start_gb": rss_start / GB,
        "success": result.success,
    }
    gate = [e for e in result.get_asset_check_evaluations() if e.check_name == "promotion_gate"]
    if gate:  # a refused champion is an outcome of the lineage, measured like any other
        row.update(success=True, promoted=gate[0].passed, reason=gate[0].metadata["reason"].value)
    if not row["success"]:
        row["failure"] = next((str(e.message) for e in result.all_events if e.is_failure), "failed")
        return row
    if len(assets) == 1:
        events = result.asset_materializations_for_node(assets[0])
        metadata = {k: v.value for k, v in events[-1].metadata.items()} if events else {}
        row.update({k: metadata[k] for k in SHOWN if k in metadata})
    return row


def _child(conn: Any, assets: list[str], run_dir: Path, corpus_dir: Path, lean: bool) -> None:
    try:
        conn.send(materialize(assets, run_dir, corpus_dir, lean))
    except BaseException as error:  # the parent reports it; the child only carries it there
        conn.send({"success": False, "failure": f"{type(error).__name__}: {error}"})
        raise
    finally:
        conn.close()


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for p in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # exited between listing and reading
            total += p.memory_info().rss
    return total


def measure(name: str, assets: list[str], run_dir: Path, corpus_dir: Path, lean: bool) -> dict[str, Any]:
    """`assets` in a forked process; its tree's resident memory polled while it runs."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, assets, run_dir, corpus_dir, lean))
    started = time.perf_counter()
    child.start()
    send.close()
    process, tree_peak = psutil.Process(child.pid), 0
    while child.is_alive():
        try:
            tree_peak = max(tree_peak, _tree_rss(process))
        except psutil.Error:
            break
        if receive.poll(0.25):
            break
    try:
        row = receive.recv() if receive.poll(5) else None
    except EOFError:  # it died before it could answer (killed for memory, say)
        row = None
    child.join()
    if row is None:
        row = {"success": False, "failure": f"the process ended with exit code {child.exitcode}"}
    return {"asset": name, **row, "process_s": time.perf_counter() - started, "tree_peak_gb": tree_peak / GB}


def sample_corpus(full: Path, dest: Path, n: int, seed: int) -> Path:
    """`n` review lines of `full`, drawn with `seed`, in file order; its movie details whole."""
    if (dest / SYNTHETIC_MARKER).exists():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    with (full / REVIEWS_FILE).open(encoding="utf-8") as source:
        lines = source.readlines()
    keep = np.sort(np.random.default_rng(seed).choice(len(lines), size=n, replace=False))
    (dest / REVIEWS_FILE).write_text("".join(lines[i] for i in keep), encoding="utf-8")
    (dest / DETAILS_FILE).write_bytes((full / DETAILS_FILE).read_bytes())
    note = json.loads((full / SYNTHETIC_MARKER).read_text())
    note.update(n_reviews=n, note=f"Sample of {len(lines):,} synthetic reviews (seed {seed}), not IMDB data")
    (dest / SYNTHETIC_MARKER).write_text(json.dumps(note, indent=2) + "\n")
    return dest


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gb": psutil.virtual_memory().total / GB,
        "load_avg": os.getloadavg(),
    }


def plan(args: argparse.Namespace, workdir: Path) -> list[tuple[str, list[str], Path, int]]:
    """(row name, assets, corpus, reviews) per measured process, in run order."""
    full = workdir / f"corpus-{args.reviews}"
    if not (full / SYNTHETIC_MARKER).exists():
        started = time.perf_counter()
        generate_corpus(full, CorpusSpec(n_reviews=args.reviews, n_movies=args.movies, seed=11))
        print(f"generated the SYNTHETIC corpus in {time.perf_counter() - started:.0f}s (not timed below)")
    ordered, encoding = lineage(build_definitions(_settings(workdir / "plan", full)))
    if args.embed_sample >= args.reviews:
        return [(a, [a], full, args.reviews) for a in ordered]
    sample = sample_corpus(
        full, workdir / f"sample-{args.embed_sample}-of-{args.reviews}", args.embed_sample, 11
    )
    steps = [(a, [a], full, args.reviews) for a in ordered if a not in encoding]
    prerequisites = [a for a in ordered if a not in encoding]
    steps.append(("(prerequisites on the sample)", prerequisites, sample, args.embed_sample))
    steps += [(a, [a], sample, args.embed_sample) for a in ordered if a in encoding]
    return steps


def _note(row: dict[str, Any]) -> str:
    if not row["success"]:
        return "FAILED: " + row.get("failure", "")[:200]
    if "promoted" in row:
        return f"gate {'passed' if row['promoted'] else 'refused'}: {row['reason'][:120]}"
    shown = {k: row[k] for k in SHOWN if k in row}
    return ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items())


def print_table(rows: list[dict[str, Any]], header: str) -> None:
    print(f"\n{header}")
    print(f"{'asset':<31}{'reviews':>9}{'wall s':>9}{'process s':>11}{'peak GB':>9}{'tree GB':>9}  notes")
    for row in rows:
        print(
            f"{row['asset']:<31}{row['corpus_reviews']:>9,}{row.get('wall_s', float('nan')):>9.1f}"
            f"{row['process_s']:>11.1f}{row.get('peak_gb', float('nan')):>9.2f}"
            f"{row['tree_peak_gb']:>9.2f}  {_note(row)}"
        )
    done = [r for r in rows if r["success"]]
    print(
        f"{'whole lineage':<31}{'':>9}{sum(r['wall_s'] for r in done):>9.1f}"
        f"{sum(r['process_s'] for r in rows):>11.1f}{max((r['peak_gb'] for r in done), default=0):>9.2f}"
        f"{max(r['tree_peak_gb'] for r in rows):>9.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reviews", type=int, default=FULL_SIZE)
    parser.add_argument("--movies", type=int, default=1_572)
    parser.add_argument(
        "--embed-sample", type=int, default=20_000, help="reviews the text-encoding assets run on"
    )
    parser.add_argument("--lean", action="store_true", help="the test suite's small model budgets")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the corpus here between runs")
    parser.add_argument("--out", type=Path, default=None, help="folder for lineage.json (default: workdir)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the children's beta and deprecation notices would bury the figures
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="spoiler-lineage-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    at_start = machine()
    started = time.perf_counter()
    steps = plan(args, workdir)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    models = os.environ.get("SPOILER_MODELS") or "(unset: the definitions' default)"
    print(
        f"SPOILER_MODELS {models}; budgets {'lean' if args.lean else 'asset defaults'}; run folder {run_dir}"
    )
    rows = []
    for name, assets, corpus, reviews in steps:
        phase = "full" if corpus.name.startswith("corpus-") else "sample"
        rows.append({**measure(name, assets, run_dir / phase, corpus, args.lean), "corpus_reviews": reviews})
        print(json.dumps(rows[-1], default=str), flush=True)
        if not rows[-1]["success"]:
            break
    load_end = os.getloadavg()
    cores = f"{at_start['usable_cores']} of {at_start['cores']} cores"
    loads = (
        f"{', '.join(f'{v:.2f}' for v in at_start['load_avg'])} -> {', '.join(f'{v:.2f}' for v in load_end)}"
    )
    sampled = f", text-encoding assets on {args.embed_sample:,}" if args.embed_sample < args.reviews else ""
    print_table(
        rows,
        f"SYNTHETIC corpus (not IMDB data), {args.reviews:,} reviews{sampled}; {cores}, "
        f"{at_start['memory_gb']:.0f} GB; load average (1, 5, 15 min) {loads}; "
        f"{time.perf_counter() - started:.0f}s in all",
    )
    out = args.out or workdir
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "corpus": "SYNTHETIC",
        "args": {k: str(v) for k, v in vars(args).items()},
        "spoiler_models": os.environ.get("SPOILER_MODELS"),
        "machine": {**at_start, "load_avg_end": load_end},
        "rows": rows,
    }
    (out / "lineage.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"figures written to {out / 'lineage.json'}")
    if not all(r["success"] for r in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
