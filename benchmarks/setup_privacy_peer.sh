#!/usr/bin/env bash
# Builds the environment of the privacy benchmark's peer (.venv-privacy-peer): smartnoise-synth, whose AIM and MST
# benchmarks/privacy.py runs next to Perpetuum's. It lives apart because smartnoise-synth pins opendp < 0.15, and
# Perpetuum's dp extra needs OpenDP 0.16. torch (pulled by smartnoise's opacus) is pinned to the CPU build first.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PRIVACY_PEER_VENV:-.venv-privacy-peer}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "torch==2.13.0"
"$VENV/bin/pip" install -q "torch==2.13.0" "smartnoise-synth==1.0.8" "pandas>=2.1,<3" pyarrow
echo "privacy peer environment ready: $VENV"
