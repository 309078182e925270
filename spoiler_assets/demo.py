"""The main job on the embedded default, end to end, from one command.

1. generates the default SYNTHETIC corpus (unless SPOILER_SOURCE points at real files),
2. materializes `champion_model` and its whole lineage in a persistent Dagster instance
   (`<data dir>/dagster_home`, so `dagster dev` shows the runs afterwards),
3. prints the model comparison,
4. starts the HTTP API, asks it for predictions, and stops it.

Run: `python -m spoiler_assets.demo` (the README's `make demo` does the set-up first).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from spoiler_assets.data.synthetic import CorpusSpec, generate_corpus
from spoiler_assets.settings import SYNTHETIC_FIRST_MONTH, SYNTHETIC_LAST_MONTH, Settings

if TYPE_CHECKING:
    from spoiler_assets.models.comparison import Comparison

# Small enough to finish in a few minutes on 2 cores, large enough to learn from.
DEMO_SPEC = CorpusSpec(
    n_reviews=6_000, n_movies=100, seed=7, first_month=SYNTHETIC_FIRST_MONTH, last_month=SYNTHETIC_LAST_MONTH
)
EXAMPLES = (
    {"review_text": "Great cast and a moving score; the pacing drags a little in the middle."},
    {
        "review_text": (
            "I can't believe the detective turns out to be the killer, and then his brother dies at the end."
        )
    },
)


# Warnings that a user of the demo cannot act on: libraries' notices about their own APIs
# and internals (evidently, for one, imports Litestar's deprecated `Dependency`). Errors,
# and every other warning (about the data, the models, the run), still show.
_NOTICE_CATEGORIES: tuple[type[Warning], ...] = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
_NOTICE_MESSAGES = re.compile(
    "An input example was not provided"  # MLflow, logging a model
    "|Any type hint is inferred as AnyType"  # MLflow, at import
    "|On demand feature view is an experimental feature"  # Feast
)
# The same for the processes the demo starts (Ray workers, the API), and no progress
# bars: the demo prints its own progress. A variable the user set is kept.
_CHILD_ENV = {
    "PYTHONWARNINGS": "ignore::DeprecationWarning,ignore::PendingDeprecationWarning,ignore::FutureWarning",
    "RAY_DATA_DISABLE_PROGRESS_BARS": "1",
    "TQDM_DISABLE": "1",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def quiet_library_notices() -> None:
    """Leave the notices above out of this process's output and the ones it starts.

    Filtering where warnings are shown, not with `warnings.filterwarnings`: Feast's
    modules put "once" filters for DeprecationWarning first whenever they are imported."""
    import dagster as dg

    categories = (*_NOTICE_CATEGORIES, dg.BetaWarning, dg.PreviewWarning)
    show = warnings.showwarning

    def show_unless_notice(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if not (issubclass(category, categories) or _NOTICE_MESSAGES.search(str(message))):
            show(message, category, filename, lineno, file, line)

    warnings.showwarning = show_unless_notice
    for name, value in _CHILD_ENV.items():
        os.environ.setdefault(name, value)


def prepare_source(settings: Settings) -> None:
    if not settings.uses_default_source:
        print(f"source: {settings.source_uri}")
        return
    if (settings.default_source_dir / "SYNTHETIC_CORPUS.json").exists():
        print(f"source: SYNTHETIC corpus already at {settings.default_source_dir}")
        return
    print(f"generating the SYNTHETIC demo corpus ({DEMO_SPEC.n_reviews:,} reviews) ...")
    corpus = generate_corpus(settings.default_source_dir, DEMO_SPEC)
    print(
        f"  {corpus.n_reviews:,} synthetic reviews, {corpus.n_movies} movies, {corpus.n_spoilers:,} spoilers"
    )


def materialize_champion(settings: Settings) -> Comparison:
    import dagster as dg

    from spoiler_assets.definitions import build_definitions
    from spoiler_assets.partitions import all_months_tags

    defs = build_definitions(settings)
    months = defs.resolve_assets_def("raw_reviews").partitions_def
    assert months is not None
    keys = months.get_partition_keys()
    home = settings.data_dir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        # The demo tells its own story: no telemetry banner in its output.
        config.write_text("telemetry:\n  enabled: false\n")
    instance = dg.DagsterInstance.from_config(str(home))
    print(f"materializing champion_model and its lineage ({len(keys)} review months, one run) ...")
    started = time.perf_counter()
    result = defs.resolve_job_def("champion_job").execute_in_process(
        instance=instance,
        tags=all_months_tags(months),
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        raise_on_error=False,
    )
    if not result.success:
        failures = [e.message for e in result.all_events if e.is_failure]
        raise SystemExit("the champion run failed:\n" + "\n".join(str(f) for f in failures))
    print(f"  run {result.run_id} succeeded in {time.perf_counter() - started:.0f}s")
    champion = result.output_for_node("champion_model")
    print(f"  champion: {champion.model_name} v{champion.version} ({champion.asset}) - {champion.reason}")
    comparison: Comparison = result.output_for_node("model_comparison")
    return comparison


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def serve_and_predict(settings: Settings) -> None:
    port = _free_port()
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "SPOILER_DATA_DIR": str(settings.data_dir),
        "PYTHONPATH": str(root),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.main:build_app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=root,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/ready", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the API did not become ready")
            time.sleep(1)
        print(f"\nAPI up at {base}; POST /predict:")
        for example in EXAMPLES:
            print(f"  {example['review_text'][:70]!r}\n    -> {_post(f'{base}/predict', example)}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    quiet_library_notices()  # before the pipeline's libraries are imported
    from spoiler_assets.assets.evaluation import left_out_markdown
    from spoiler_assets.models.comparison import comparison_markdown

    settings = Settings.from_env()
    print(f"data dir: {settings.data_dir}")
    prepare_source(settings)
    comparison = materialize_champion(settings)
    data = "SYNTHETIC corpus, not IMDB" if settings.uses_default_source else settings.source_uri
    print(f"\nModel comparison on {data} (chosen on validation, reported on test):\n")
    print(comparison_markdown(comparison) + left_out_markdown(settings.left_out))
    serve_and_predict(settings)
    print(f"\nOpen the Dagster UI on these runs: DAGSTER_HOME={settings.data_dir / 'dagster_home'} make ui")


if __name__ == "__main__":
    main()
