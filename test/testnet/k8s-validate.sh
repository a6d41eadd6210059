#!/usr/bin/env bash
# Validates k8s/*.yaml offline against the Kubernetes OpenAPI schemas shipped inside the PyPI
# package kubernetes-validate (kubeconform would fetch its schemas at run time, which CI cannot).
# Strict: unknown fields fail too. The validator lives in a venv cached under
# $HOME/.cache/tentacle-ts; a machine that cannot install it fails here with the reason.
#
#   test/testnet/k8s-validate.sh [FILE...]     (default: every k8s/*.yaml)
set -euo pipefail
cd "$(dirname "$0")/../.."

VERSION=1.37.0          # kubernetes-validate, and the Kubernetes version validated against
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/tentacle-ts/kubernetes-validate-$VERSION"
BIN="$VENV/bin/kubernetes-validate"

if [ ! -f "$VENV/.complete" ]; then
  echo "k8s-validate: installing kubernetes-validate $VERSION into $VENV" >&2
  rm -rf "$VENV"
  if ! { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$VERSION"; } >&2; then
    rm -rf "$VENV"
    echo "k8s-validate: FAILED to install kubernetes-validate $VERSION (python3 -m venv + pip from PyPI); the manifests were NOT validated" >&2
    exit 3
  fi
  touch "$VENV/.complete"
fi

if [ $# -eq 0 ]; then set -- k8s/*.yaml; fi
exec "$BIN" --strict --kubernetes-version "$VERSION" "$@"
