from pathlib import Path

import pytest

from spoiler_assets.settings import KAGGLE_FIRST_MONTH, SYNTHETIC_FIRST_MONTH, Settings


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
