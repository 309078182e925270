"""Where the feature store lives, built from settings in code (no YAML edit needed).

`FeatureStoreSpec` is a small, picklable description: the offline root (sources and
registry, on local disk or S3), the online store (SQLite file by default, Redis when a
URL is set) and the Feast project. `open_store` turns it into a Feast `FeatureStore`,
one per spec and process; models keep the spec and re-open the store after unpickling,
never a live handle. A password in REDIS_URL stays with the spec made from that URL, out
of its `redis_url`, its repr and its pickle, so pickled models, Dagster resource config
and run metadata do not hold it: a process that opens the store of an unpickled model
binds its own spec first (the API rebinds models to its settings, see `api/provider.py`).
`feature_repo/feature_store.yaml` documents the same layout with ${ENV} substitution
for the Feast CLI.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

from feast import FeatureStore, RepoConfig
from feast.infra.offline_stores.dask import DaskOfflineStoreConfig
from feast.infra.online_stores.redis import RedisOnlineStoreConfig
from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig
from feast.repo_config import RegistryConfig

from spoiler_assets.features.registry_store import CLASS_PATH, ENDPOINT_KEY
from spoiler_assets.settings import Settings

# Feast re-reads the registry after this many seconds, so a serving process sees a
# newly applied registry without a restart.
REGISTRY_CACHE_TTL_SECONDS = 60

# An online lookup must fail fast when Redis is down or hung, so that the API answers
# 503 within about two seconds: redis-py's default retries 3 times with exponential
# backoff (up to 10 s each) and waits on sockets forever, which held answers ~33 s.
# After a Redis restart no retry is needed: redis-py's pool drops and reopens a pooled
# connection that the server closed before sending on it. The timeouts bound each
# socket operation (one connect, one wait for the next reply bytes), not a whole
# pipelined batch, so a large materialization is not cut short by them.
REDIS_CONNECT_TIMEOUT_S = 1.0
REDIS_SOCKET_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class FeatureStoreSpec:
    """Everything needed to open the feature store; no connection, safe to pickle."""

    project: str
    root_uri: str
    local_dir: str
    s3_endpoint_url: str | None = None
    redis_url: str | None = None  # without its password (see the module's docstring)
    # Taken out of `redis_url`; never shown, never pickled (see `__getstate__`).
    redis_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.redis_url:
            url, password = _without_password(self.redis_url)
            object.__setattr__(self, "redis_url", url)
            if password is not None:
                object.__setattr__(self, "redis_password", password)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "redis_password": None}

    # Copies share the (immutable) spec, password included; only pickles drop it.
    def __copy__(self) -> FeatureStoreSpec:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FeatureStoreSpec:
        return self

    def redis_url_with_password(self) -> str | None:
        """`redis_url` as the process that made this spec was given it."""
        if not self.redis_url or self.redis_password is None:
            return self.redis_url
        parsed = urlparse(self.redis_url)
        host = parsed.netloc.rsplit("@", 1)[-1]
        return urlunparse(parsed._replace(netloc=f"{parsed.username or ''}:{self.redis_password}@{host}"))

    @classmethod
    def from_settings(cls, settings: Settings) -> FeatureStoreSpec:
        return cls(
            project=settings.feast_project,
            root_uri=settings.feature_store_uri,
            local_dir=str(settings.feature_store_dir),
            s3_endpoint_url=settings.s3_endpoint_url if settings.uses_s3 else None,
            redis_url=settings.redis_url,
        )

    @property
    def uses_s3(self) -> bool:
        return self.root_uri.startswith("s3://")

    def source_uri(self, relative: str) -> str:
        """Absolute location of a source declared relative to the offline root."""
        return f"{self.root_uri.rstrip('/')}/{relative.lstrip('/')}"

    @property
    def registry_path(self) -> str:
        return self.source_uri("registry.pb" if self.uses_s3 else "registry.db")

    @property
    def online_description(self) -> str:
        if self.redis_url:
            parsed = urlparse(self.redis_url)
            return f"redis://{parsed.hostname}:{parsed.port or 6379}"
        return f"sqlite:{self.local_dir}/online_store.db"

    def repo_config(self) -> RepoConfig:
        registry = RegistryConfig(path=self.registry_path, cache_ttl_seconds=REGISTRY_CACHE_TTL_SECONDS)
        if self.uses_s3:
            registry = RegistryConfig(
                path=self.registry_path,
                cache_ttl_seconds=REGISTRY_CACHE_TTL_SECONDS,
                registry_store_type=CLASS_PATH,
                s3_additional_kwargs={ENDPOINT_KEY: self.s3_endpoint_url} if self.s3_endpoint_url else None,
            )
        online: SqliteOnlineStoreConfig | RedisOnlineStoreConfig
        if self.redis_url:
            online = RedisOnlineStoreConfig(
                connection_string=redis_connection_string(self.redis_url, self.redis_password)
            )
        else:
            online = SqliteOnlineStoreConfig(path=str(Path(self.local_dir) / "online_store.db"))
        if not self.uses_s3:
            Path(self.local_dir).mkdir(parents=True, exist_ok=True)
        return RepoConfig(
            project=self.project,
            provider="local",
            registry=registry,
            online_store=online,
            offline_store=DaskOfflineStoreConfig(),
            repo_path=Path(self.local_dir),
            entity_key_serialization_version=3,
        )


def _parse_redis_url(url: str) -> tuple[str, str | None]:
    """("host:port", password) of a `redis://[:password@]host:port/db` URL."""
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
        raise ValueError(f"REDIS_URL must look like redis://host:6379/0, got {url!r}")
    return f"{parsed.hostname}:{parsed.port or 6379}", parsed.password


def _without_password(url: str) -> tuple[str, str | None]:
    """(`url` without its password, the password)."""
    address, password = _parse_redis_url(url)
    if password is None:
        return url, None
    parsed = urlparse(url)
    user = f"{parsed.username}@" if parsed.username else ""
    return urlunparse(parsed._replace(netloc=f"{user}{address}")), password


def redis_connection_string(url: str, password: str | None = None) -> str:
    """`redis://[:password@]host:port/db` as Feast's "host:port,db=N,password=..." form;
    the password is the URL's or, where it has none, `password`. Feast passes each
    key=value (JSON-decoded) to `redis.Redis`: the timeouts above, and `retry=null`,
    which makes redis-py try each command once."""
    address, in_url = _parse_redis_url(url)
    parsed = urlparse(url)
    parts = [address]
    db = parsed.path.strip("/")
    if db:
        parts.append(f"db={int(db)}")
    password = in_url or password
    if password:
        parts.append(f"password={password}")
    if parsed.scheme == "rediss":
        parts.append("ssl=true")
    parts += [
        f"socket_connect_timeout={REDIS_CONNECT_TIMEOUT_S}",
        f"socket_timeout={REDIS_SOCKET_TIMEOUT_S}",
        "retry=null",
    ]
    return ",".join(parts)


_STORES: dict[FeatureStoreSpec, FeatureStore] = {}
_STORES_LOCK = threading.Lock()


def open_store(spec: FeatureStoreSpec) -> FeatureStore:
    """The process's `FeatureStore` for `spec` (opened once, then shared)."""
    with _STORES_LOCK:
        store = _STORES.get(spec)
        if store is None:
            store = _STORES[spec] = FeatureStore(config=spec.repo_config())
        return store
