"""`feast apply` and `feast materialize` in code, for the definitions in `feature_repo/`.

The definitions declare source paths relative to the offline root; `load_definitions`
imports them the way the Feast CLI does and points each source at the root of a
`FeatureStoreSpec` (local folder or S3 bucket), so one declarative repo serves both
environments.

Materialization is incremental per view and never moves the online store back in
time: a view continues from the end of its last materialization up to the cutoff.
Views tagged `static` (movie metadata, all stamped at the epoch) are reloaded in full
each time, because an edit to a movie keeps its old timestamp and would otherwise be
skipped. TTLs are 0 (features never expire), which Feast's own
`materialize_incremental` would read as "start a year ago".
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from feast import Entity, FeatureService, FeatureStore, FeatureView, FileSource, RequestSource
from feast.on_demand_feature_view import OnDemandFeatureView

from spoiler_assets.features.sources import EPOCH
from spoiler_assets.features.store import FeatureStoreSpec

_FEAST_TYPES = (Entity, FileSource, RequestSource, FeatureView, OnDemandFeatureView, FeatureService)
STATIC_TAG = "static"


class OnlineStoreAheadError(RuntimeError):
    """The online store already holds data past the requested cutoff."""


@dataclass(frozen=True)
class MaterializedView:
    name: str
    start: datetime | None
    end: datetime
    status: str  # "loaded", "reloaded" (static) or "up to date"


def load_definitions(repo_dir: Path, spec: FeatureStoreSpec) -> list[Any]:
    """Import every module of `repo_dir` and return its Feast objects, with relative
    source paths resolved against the spec's offline root."""
    objects: dict[int, Any] = {}
    for path in sorted(repo_dir.glob("*.py")):
        module_spec = importlib.util.spec_from_file_location(f"_feature_repo_{path.stem}", path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot import Feast definitions from {path}")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        objects.update({id(v): v for v in vars(module).values() if isinstance(v, _FEAST_TYPES)})
    if not objects:
        raise ValueError(f"no Feast definitions found in {repo_dir}")
    found = list(objects.values())
    for obj in found:
        source = obj.batch_source if isinstance(obj, FeatureView) else obj
        if isinstance(source, FileSource):
            _resolve(source, spec)
    return found


def _resolve(source: FileSource, spec: FeatureStoreSpec) -> None:
    if "://" not in source.path and not Path(source.path).is_absolute():
        source.file_options.uri = spec.source_uri(source.path)
    source.file_options.s3_endpoint_override = (spec.s3_endpoint_url or "") if spec.uses_s3 else ""


def _registered(store: FeatureStore) -> list[Any]:
    return [
        *store.list_feature_services(),
        *store.list_on_demand_feature_views(),
        *store.list_feature_views(),
        *[e for e in store.list_entities() if not e.name.startswith("__")],
        *store.list_data_sources(),
    ]


def apply_definitions(store: FeatureStore, objects: list[Any]) -> dict[str, list[str]]:
    """Register `objects` and delete registered objects no longer defined."""
    wanted = {(type(o).__name__, o.name) for o in objects}
    stale = [o for o in _registered(store) if (type(o).__name__, o.name) not in wanted]
    store.apply(objects, objects_to_delete=stale, partial=False)
    return {
        "applied": sorted(f"{kind}:{name}" for kind, name in wanted),
        "deleted": sorted(f"{type(o).__name__}:{o.name}" for o in stale),
    }


def materialize(store: FeatureStore, cutoff: datetime) -> list[MaterializedView]:
    """Load every batch feature view into the online store up to `cutoff` (inclusive)."""
    cutoff = pd.Timestamp(cutoff).tz_convert("UTC").to_pydatetime()
    done: list[MaterializedView] = []
    for view in sorted(store.list_feature_views(), key=lambda v: v.name):
        if view.tags.get(STATIC_TAG) == "true":
            store.materialize(EPOCH.to_pydatetime(), cutoff, feature_views=[view.name])
            done.append(MaterializedView(view.name, None, cutoff, "reloaded"))
            continue
        start = view.most_recent_end_time
        if start is not None and start > cutoff:
            raise OnlineStoreAheadError(
                f"online store holds {view.name} up to {start:%Y-%m-%d %H:%M} UTC, past the cutoff"
                f" {cutoff:%Y-%m-%d %H:%M}; run online_features with full_refresh to rebuild it"
            )
        if start is not None and start == cutoff:
            done.append(MaterializedView(view.name, start, cutoff, "up to date"))
            continue
        begin = start or EPOCH.to_pydatetime()
        store.materialize(begin, cutoff, feature_views=[view.name])
        done.append(MaterializedView(view.name, start, cutoff, "loaded"))
    return done
