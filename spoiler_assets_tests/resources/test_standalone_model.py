"""A registered model stands alone: MLflow's own scoring server loads
`models:/<name>@champion` from the tracking server and scores reviews, from a folder
outside this repository and with the repository off the Python path. The model carries
this package's code and pinned requirements. SYNTHETIC data throughout."""

import json
import os
import subprocess
import sys
import textwrap
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from spoiler_assets.models.baseline import BaselineParams, TfidfLogisticModel, train_baseline
from spoiler_assets.resources.tracking import MlflowTrackingResource
from spoiler_assets_tests.servers import answers_ok, free_port, wait_until_ready

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODEL_NAME = "spoiler-shield-standalone"
REPO_ROOT = Path(__file__).resolve().parents[2]
REVIEWS = ["The butler turns out to be the killer and dies in the last scene.", "Lovely score, weak script."]
# Loads and uses the model, then reads the imports in the source of every module of this
# package that it loaded (from the model's own `code/` copy), lazy imports included;
# prints the third-party ones and those outside the closure of the model's requirements.
# Reading the code, not sys.modules: libraries import optional extras when present
# (rich, tqdm), which a served model does not need.
_IMPORTS_VS_REQUIREMENTS = textwrap.dedent(
    """
    import ast, json, sys
    from importlib import metadata
    import mlflow.pyfunc, pandas as pd
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    model = mlflow.pyfunc.load_model(sys.argv[1])
    model.predict(pd.DataFrame({"review_text": ["he dies at the end"]}))
    ours = [m for name, m in sys.modules.items() if name.split(".")[0] == "spoiler_assets"]
    tops = set()
    for module in ours:
        for node in ast.walk(ast.parse(open(module.__file__).read())):
            if isinstance(node, ast.Import):
                tops |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops.add(node.module.split(".")[0])
    third_party = sorted(tops - set(sys.stdlib_module_names) - {"spoiler_assets", "__future__"})
    closure, todo = set(), [Requirement(line).name for line in open(sys.argv[2]).read().split()]
    while todo:
        name = canonicalize_name(todo.pop())
        if name not in closure:
            closure.add(name)
            for spec in metadata.requires(name) or []:
                req = Requirement(spec)
                if req.marker is None or req.marker.evaluate({"extra": ""}):
                    todo.append(req.name)
    owners = metadata.packages_distributions()
    missing = [t for t in third_party if not {canonicalize_name(d) for d in owners.get(t, [])} & closure]
    print(json.dumps({
        "code_from": sorted({m.__file__.split("/code/")[0] for m in ours}),
        "imports": third_party,
        "missing": missing,
    }))
    """
)


@dataclass(frozen=True)
class Registered:
    tracking_uri: str
    classifier: TfidfLogisticModel
    model_dir: Path  # the champion's artifacts, downloaded


def _clean_env(tracking_uri: str) -> dict[str, str]:
    """This interpreter's environment without the repository: no PYTHONPATH, the venv's
    executables first on PATH (where `--env-manager local` finds uvicorn)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    return env


@pytest.fixture(scope="module")
def registered(tiny_corpus: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> Registered:
    """The baseline (cheap to train) logged and promoted the way `champion_model` does it."""
    import mlflow
    import mlflow.artifacts

    reviews = pd.read_json(tiny_corpus / "IMDB_reviews.json", lines=True).head(600)
    frame = pd.DataFrame(
        {
            "review_text": reviews["review_text"].astype(str),
            "is_spoiler": reviews["is_spoiler"].astype(int),
            "movie_id": reviews["movie_id"].astype(str),
            "user_id": reviews["user_id"].astype(str),
        }
    )
    classifier = train_baseline(frame.iloc[:450], frame.iloc[450:], BaselineParams(hash_bits=12))
    tracking = MlflowTrackingResource(tracking_uri=mlflow_server, model_name=MODEL_NAME)
    with tracking.start_run("standalone-baseline"):
        model_uri = tracking.log_classifier(classifier)
    tracking.set_champion(tracking.register(model_uri, tags={"asset": "baseline_model"}))
    # The version's own artifacts: a `models:/` URI would resolve through the process-wide
    # registry URI, which the tracking resource leaves alone.
    client = mlflow.MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    champion = client.get_model_version_by_alias(MODEL_NAME, "champion")
    model_dir = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=client.get_model_version_download_uri(MODEL_NAME, champion.version),
            dst_path=str(tmp_path_factory.mktemp("champion")),
            tracking_uri=mlflow_server,
        )
    )
    return Registered(mlflow_server, classifier, model_dir)


@pytest.fixture
def outside(tmp_path: Path, registered: Registered) -> tuple[Path, dict[str, str]]:
    """A folder outside the repository where this repository's package cannot be imported."""
    env = _clean_env(registered.tracking_uri)
    probe = [sys.executable, "-c", "import spoiler_assets"]
    found = subprocess.run(probe, cwd=tmp_path, env=env, capture_output=True, timeout=60).returncode == 0
    assert not found, "spoiler_assets is importable without the repository: the test would prove nothing"
    return tmp_path, env


def test_champion_is_served_by_mlflow_models_serve_without_the_repository(
    registered: Registered, outside: tuple[Path, dict[str, str]]
) -> None:
    folder, env = outside
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        f"models:/{MODEL_NAME}@champion",
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    log = folder / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(
            lambda: answers_ok(f"http://127.0.0.1:{port}/ping"),
            "mlflow models serve",
            timeout_s=240,
            interval_s=1,
            process=server,
            log=log,
        )
        body = json.dumps({"dataframe_records": [{"review_text": text} for text in REVIEWS]}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            predictions = json.load(response)["predictions"]
    finally:
        server.terminate()
        server.wait(timeout=60)

    expected = registered.classifier.predict_proba(pd.DataFrame({"review_text": REVIEWS}))
    assert [p["spoiler_probability"] for p in predictions] == pytest.approx(list(expected), abs=1e-9)
    threshold = registered.classifier.threshold
    assert [p["is_spoiler"] for p in predictions] == [bool(p >= threshold) for p in expected]


def test_champion_requirements_are_pinned_and_cover_what_it_imports(
    registered: Registered, outside: tuple[Path, dict[str, str]]
) -> None:
    requirements = (registered.model_dir / "requirements.txt").read_text().split()
    assert requirements and all("==" in line for line in requirements), requirements
    assert (registered.model_dir / "code" / "spoiler_assets" / "models" / "pyfunc.py").exists()

    folder, env = outside
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _IMPORTS_VS_REQUIREMENTS,
            f"models:/{MODEL_NAME}@champion",
            str(registered.model_dir / "requirements.txt"),
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["code_from"] and not any(str(REPO_ROOT) in f for f in report["code_from"])
    assert {"sklearn", "pandas", "numpy", "mlflow"} <= set(report["imports"])
    assert report["missing"] == [], "imported by the model's code, not in its requirements' closure"
