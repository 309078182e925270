"""Production entry point: the MLflow champion behind the API.

Run with::

    uvicorn --factory api.main:build_app --port 8000

Settings come from the environment through `Settings.from_env()` (MLFLOW_TRACKING_URI,
SPOILER_MODEL_NAME, REDIS_URL for the feature store, ...), read when uvicorn calls the
factory, never at import time. SPOILER_ADMIN_TOKEN, a secret only this process needs,
is read here too: it enables `/model/reload` (unset: the admin routes answer 403).
"""

from __future__ import annotations

import os

from litestar import Litestar

from api.app import create_app
from api.provider import MlflowChampionProvider
from spoiler_assets.features.store import FeatureStoreSpec
from spoiler_assets.settings import Settings


def build_app() -> Litestar:
    """The API serving `<model_name>@champion` from the configured MLflow registry."""
    settings = Settings.from_env()
    provider = MlflowChampionProvider(
        settings.mlflow_tracking_uri,
        settings.model_name,
        feature_store=FeatureStoreSpec.from_settings(settings),
    )
    return create_app(provider, admin_token=os.environ.get("SPOILER_ADMIN_TOKEN") or None)
