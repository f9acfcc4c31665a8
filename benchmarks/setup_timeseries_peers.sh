#!/usr/bin/env bash
# Builds the environments of the time-series benchmark's learned peers, which benchmarks/timeseries_vs_peers.py runs
# in a subprocess next to Perpetuum's model (benchmarks/timeseries_peer_run.py inside each):
#   .venv-timeseries-dgan  Gretel's DGAN (gretel-synthetics 0.22.20, which pins pandas < 2, numpy < 1.24, sdv < 0.18).
#                          Installed without its declared dependencies: its pins rdt < 1.3 and sdv < 0.18 are for its
#                          ACTGAN module and have no wheel on the package index here; DGAN itself imports only numpy,
#                          pandas, scipy, torch and category_encoders, which are installed at the versions it pins.
#   .venv-timeseries-par   SDV's PARSynthesizer (sdv 2.0.0)
# They live apart from each other and from the main environment because those pins conflict. torch is pinned first
# to the CPU build so nothing pulls CUDA packages. Data goes to and from the peers as .npz files.
set -euo pipefail
cd "$(dirname "$0")/.."
DGAN=${TIMESERIES_DGAN_VENV:-.venv-timeseries-dgan}
PAR=${TIMESERIES_PAR_VENV:-.venv-timeseries-par}
[ -x "$DGAN/bin/python" ] || python3 -m venv "$DGAN"
"$DGAN/bin/pip" install -q --upgrade pip
"$DGAN/bin/pip" install -q "torch==2.13.0"
"$DGAN/bin/pip" install -q "torch==2.13.0" "numpy<1.24" "pandas<2" "scipy<1.11" "category-encoders==2.4.0" "pyarrow<15"
"$DGAN/bin/pip" install -q --no-deps "gretel-synthetics==0.22.20"
"$DGAN/bin/python" -c "import gretel_synthetics.timeseries_dgan.dgan; print('DGAN imports')"
[ -x "$PAR/bin/python" ] || python3 -m venv "$PAR"
"$PAR/bin/pip" install -q --upgrade pip
"$PAR/bin/pip" install -q "torch==2.13.0"
"$PAR/bin/pip" install -q "torch==2.13.0" "sdv==2.0.0" "pandas>=2.1,<3" pyarrow
"$PAR/bin/python" -c "import sdv.sequential; print('PAR imports')"
echo "time-series peer environments ready: $DGAN $PAR"
