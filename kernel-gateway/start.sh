#!/usr/bin/env sh
# Starts the Jupyter Kernel Gateway of ynotebook (manual use and the Docker image).
#   KG_IP (default 127.0.0.1), KG_PORT (default 8888), KG_AUTH_TOKEN (required unless
#   KG_ALLOW_NO_TOKEN=1). Uses kernel-gateway/.venv when present, else the python on PATH.
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
if [ -x "$HERE/.venv/bin/python" ]; then
  PY="$HERE/.venv/bin/python"
else
  PY="${PYTHON:-python3}"
fi
export KG_IP="${KG_IP:-127.0.0.1}"
export KG_PORT="${KG_PORT:-8888}"
if [ -z "${KG_AUTH_TOKEN:-}" ] && [ "${KG_ALLOW_NO_TOKEN:-0}" != "1" ]; then
  echo "start.sh: KG_AUTH_TOKEN is not set; refusing to start an unauthenticated gateway (set KG_ALLOW_NO_TOKEN=1 to override)" >&2
  exit 1
fi
export KG_AUTH_TOKEN="${KG_AUTH_TOKEN:-}"
exec "$PY" -m jupyter kernelgateway --config="$HERE/gateway_config.py" "$@"
