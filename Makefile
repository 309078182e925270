# The two commands of the README (demo, test) and conveniences. Every target installs
# what it needs first (scripts/bootstrap.sh, cached by lock-file hash).
IN_VENV = scripts/in-venv

.PHONY: demo test test-fast lint ui api benchmark stack stack-down

demo:  ## the main job on the embedded default: corpus -> champion -> API prediction
	$(IN_VENV) python -m spoiler_assets.demo

test:  ## the whole test suite, real servers included (started by the suite itself)
	$(IN_VENV) python -m pytest

test-fast:  ## unit tests and direct asset calls: no real servers, no slow lineage runs
	$(IN_VENV) python -m pytest -m "not integration and not slow"

lint:  ## ruff (lint + format), mypy, and `dg check defs` (the definitions load); run by .ci/run
	$(IN_VENV) ruff check spoiler_assets spoiler_assets_tests api feature_repo
	$(IN_VENV) ruff format --check spoiler_assets spoiler_assets_tests api feature_repo
	$(IN_VENV) mypy spoiler_assets api
	DAGSTER_DISABLE_TELEMETRY=1 SPOILER_DATA_DIR=$$(mktemp -d) $(IN_VENV) dg check defs

ui:  ## Dagster UI + daemon on http://127.0.0.1:3000
	$(IN_VENV) dagster dev -w workspace.yaml

api:  ## the prediction API on http://127.0.0.1:8000
	$(IN_VENV) uvicorn --factory api.main:build_app --port 8000

benchmark:  ## the champion lineage on a full-size synthetic corpus, per asset: wall time, peak memory (ARGS="--reviews N --embed-sample N --lean")
	$(IN_VENV) python -m spoiler_assets_tests.benchmarks.lineage_benchmark $(ARGS)

stack:  ## the production shape as processes: Postgres, Redis, S3 (moto), MLflow, Ray, Dagster, API (2 workers)
	scripts/stack.sh up

stack-down:  ## stops exactly what `make stack` started (state stays in .stack/)
	scripts/stack.sh down
