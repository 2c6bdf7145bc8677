#!/bin/sh
# Runs the container's command after preparing prometheus-client's multiprocess directory.
#
# With several uvicorn workers, each worker writes its metric values to files in
# PROMETHEUS_MULTIPROC_DIR and /metrics sums them. The directory must exist and must start
# empty: files left by an earlier run of this container (a restart keeps a Kubernetes emptyDir)
# would be counted again as if they came from live workers.
set -eu

if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 -delete
fi

exec "$@"
