from pathlib import Path

import pytest

from spoiler_assets.settings import (
    CPU_LEFT_OUT,
    DEFAULT_MODEL_NAME,
    KAGGLE_FIRST_MONTH,
    MODEL_ASSETS,
    SYNTHETIC_FIRST_MONTH,
    Settings,
)


def test_embedded_default_uses_synthetic_corpus_and_sqlite_mlflow(tmp_path: Path) -> None:
    settings = Settings.from_env({"SPOILER_DATA_DIR": str(tmp_path)})
    assert settings.uses_default_source and settings.first_month == SYNTHETIC_FIRST_MONTH
    assert settings.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert not settings.uses_s3


def test_real_source_defaults_to_the_kaggle_months(tmp_path: Path) -> None:
    settings = Settings.from_env({"SPOILER_DATA_DIR": str(tmp_path), "SPOILER_SOURCE": "s3://bucket/imdb"})
    assert (settings.first_month, settings.last_month) == (KAGGLE_FIRST_MONTH, None)


def test_bad_month_is_refused_with_the_variable_name() -> None:
    with pytest.raises(ValueError, match="SPOILER_FIRST_MONTH"):
        Settings.from_env({"SPOILER_FIRST_MONTH": "2015-13"})


def test_empty_values_mean_unset_and_take_the_defaults(tmp_path: Path) -> None:
    empty = {
        name: ""
        for name in (
            "SPOILER_MAX_BAD_LINE_SHARE",
            "SPOILER_SENSOR_INTERVAL_S",
            "SPOILER_MAX_LINE_BYTES",
            "SPOILER_S3_PREFIX",
            "SPOILER_MODEL_NAME",
            "SPOILER_LAST_MONTH",
            "SPOILER_S3_BUCKET",
            "SPOILER_MODELS",
        )
    }
    settings = Settings.from_env({"SPOILER_DATA_DIR": str(tmp_path), **empty}, gpu=False)
    defaults = Settings.from_env({"SPOILER_DATA_DIR": str(tmp_path)}, gpu=False)
    assert settings == defaults
    assert (settings.max_bad_line_share, settings.sensor_interval_s) == (0.01, 60)
    assert (settings.s3_prefix, settings.model_name) == ("spoiler-shield", DEFAULT_MODEL_NAME)


def test_without_a_gpu_the_transformer_is_left_out_with_the_reason() -> None:
    settings = Settings.from_env({}, gpu=False)
    assert settings.models == ("baseline_model", "xgboost_model", "mlp_model")
    assert settings.left_out == {"transformer_model": CPU_LEFT_OUT["transformer_model"]}
    assert "near chance" in settings.left_out["transformer_model"]
    assert "SPOILER_MODELS" in settings.left_out["transformer_model"]


def test_with_a_gpu_every_model_competes() -> None:
    settings = Settings.from_env({}, gpu=True)
    assert settings.models == MODEL_ASSETS and settings.left_out == {}


def test_spoiler_models_picks_the_competitors_without_asking_for_a_gpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_gpu_check() -> bool:
        raise AssertionError("SPOILER_MODELS was set: no GPU check needed")

    monkeypatch.setattr("spoiler_assets.settings._gpu_present", no_gpu_check)
    settings = Settings.from_env({"SPOILER_MODELS": " transformer_model, baseline_model "})
    assert settings.models == ("baseline_model", "transformer_model")
    assert settings.left_out == {
        "xgboost_model": "not in SPOILER_MODELS",
        "mlp_model": "not in SPOILER_MODELS",
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("baseline_model,bert_model", "unknown model asset\\(s\\) bert_model; choose from baseline_model"),
        (" , ", "names no model asset"),
    ],
)
def test_unknown_or_no_model_in_spoiler_models_is_refused(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env({"SPOILER_MODELS": value})
