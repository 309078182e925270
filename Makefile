# The two commands of the README (demo, test) and conveniences. Every target installs
# what it needs first (scripts/bootstrap.sh, cached by lock-file hash).
IN_VENV = scripts/in-venv

.PHONY: demo test lint ui api benchmark

demo:  ## the main job on the embedded default: corpus -> champion -> API prediction
	$(IN_VENV) python -m spoiler_assets.demo

test:  ## the whole test suite, real servers included (started by the suite itself)
	$(IN_VENV) python -m pytest

lint:
	$(IN_VENV) ruff check spoiler_assets spoiler_assets_tests api
	$(IN_VENV) mypy spoiler_assets api

ui:  ## Dagster UI + daemon on http://127.0.0.1:3000
	$(IN_VENV) dagster dev -w workspace.yaml

api:  ## the prediction API on http://127.0.0.1:8000
	$(IN_VENV) uvicorn --factory api.main:build_app --port 8000

benchmark:  ## full-size synthetic corpus through raw -> cleaned -> split -> baseline
	$(IN_VENV) python -m spoiler_assets_tests.benchmarks.pipeline_benchmark
