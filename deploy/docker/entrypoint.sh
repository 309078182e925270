#!/usr/bin/env bash
# Entry point of the image: runs the command it is given.
#
# With RAY_JOIN_CLUSTER=1 and RAY_ADDRESS=host:port it first joins that Ray cluster as a
# node offering no CPUs or GPUs: a Ray driver (the Dagster run that trains
# transformer_model) must run on a node of the cluster, and this node gets no tasks of
# its own. The Dagster code server (compose) and run pods (Kubernetes) set it.
set -euo pipefail
if [ "${RAY_JOIN_CLUSTER:-0}" = 1 ]; then
  : "${RAY_ADDRESS:?RAY_JOIN_CLUSTER=1 needs RAY_ADDRESS=host:port of the Ray head}"
  for attempt in $(seq 1 30); do
    if ray start --address="$RAY_ADDRESS" --num-cpus=0 --num-gpus=0 --disable-usage-stats \
      ${RAY_OBJECT_STORE_BYTES:+--object-store-memory="$RAY_OBJECT_STORE_BYTES"}; then
      break
    fi
    [ "$attempt" -lt 30 ] || { echo "entrypoint: could not join the Ray cluster at $RAY_ADDRESS" >&2; exit 1; }
    sleep 2
  done
fi
exec "$@"
