#!/usr/bin/env bash
# Static checks of docker/: no daemon, no registry, nothing built or pulled. Exits non-zero on
# the first failure.
#   bash docker/check.sh
#   BIN=DIR bash docker/check.sh     hadolint and kubernetes-validate from DIR (relative to the repo root)
#   KUBE_VERSIONS="1.31.0" bash docker/check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.venv/bin}
# The manifests must hold on 1.30 and on the newest schemas kubernetes-validate ships (1.37), so a
# field that one of them lacks shows here. --strict: an unknown field is an error, not ignored.
KUBE_VERSIONS=${KUBE_VERSIONS:-1.30.0 1.37.0}
# compose.yaml refuses to interpolate without a password; any value does for a syntax check.
export POSTGRES_PASSWORD=${POSTGRES_PASSWORD:-check-only}

if ! command -v docker-compose >/dev/null; then
    echo "docker-compose not found (apt-get install docker-compose, or make setup)" >&2
    exit 1
fi

echo "hadolint: docker/*.Dockerfile"
"$BIN/hadolint" docker/*.Dockerfile

echo "docker-compose config: docker/compose.yaml"
docker-compose -f docker/compose.yaml config -q

for version in $KUBE_VERSIONS; do
    echo "kubernetes-validate --strict $version: docker/k8s/*.yaml"
    "$BIN/kubernetes-validate" --strict --quiet -k "$version" docker/k8s/*.yaml
done
echo "docker/ checks passed"
