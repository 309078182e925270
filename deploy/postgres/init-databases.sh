#!/usr/bin/env bash
# Creates the two databases of the stack, both owned by $POSTGRES_USER: the Dagster
# instance ($DAGSTER_PG_DB) and the MLflow backend store ($MLFLOW_PG_DB).
#
# The postgres image runs it once, on an empty data volume, from
# /docker-entrypoint-initdb.d/ (compose mounts it there). It is idempotent and takes the
# usual libpq variables, so it also runs by hand against any server:
#   PGHOST=... PGPORT=... PGPASSWORD=... POSTGRES_USER=... deploy/postgres/init-databases.sh
set -euo pipefail
: "${POSTGRES_USER:?}" "${DAGSTER_PG_DB:?}" "${MLFLOW_PG_DB:?}"

for db in "$DAGSTER_PG_DB" "$MLFLOW_PG_DB"; do
  exists=$(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -tA \
    -c "SELECT 1 FROM pg_database WHERE datname = '$db'")
  if [ -z "$exists" ]; then
    # Quoted identifiers: database names are taken as written.
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
      -c "CREATE DATABASE \"$db\" OWNER \"$POSTGRES_USER\""
    echo "init-databases: created $db"
  fi
done
