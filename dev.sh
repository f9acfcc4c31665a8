#!/usr/bin/env bash
# Set up a local virtual environment (.venv) and run Perpetuum's demo or its test suite.
#
#   bash dev.sh demo [options for `perpetuum demo`]   # e.g. bash dev.sh demo --rows 5000
#   bash dev.sh test [options for pytest]             # e.g. bash dev.sh test -k cli
#
# Needs only Python 3.11+. The install is skipped when pyproject.toml has not changed since the last one
# (a stamp in .venv holds its hash), so a second run starts at once. Variables: PYTHON (interpreter used to
# create the venv), PERPETUUM_VENV (its folder, default .venv).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

VENV="${PERPETUUM_VENV:-.venv}"

# torch is needed by the test extra (the local Hugging Face backend), not by the demo. When it is needed, torch is
# installed first, on its own, pinned to TORCH_PIN (the CPU build on these machines), so that resolving the other
# dependencies can never replace it with a CUDA build and its several GB of nvidia-* packages.
NEEDS_TORCH=0
TORCH_PIN="torch==2.13.0"
# llama-cpp-python compiles from source for the CPU it runs on (-march=native). It is pinned to the version CI tests
# (the same pin is in pyproject.toml; tests/test_install_pins.py keeps the two equal), built here with pip's cache
# off, so a wheel compiled on another CPU (other instruction sets, AMX or not) is never reused. Its image-model
# (llava) part is not used by Perpetuum and costs a third of the build time.
LLAMA_CPP_PIN="llama-cpp-python==0.3.36"
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}"

usage() {
    echo "usage: bash dev.sh demo [perpetuum demo options] | bash dev.sh test [pytest options]" >&2
    exit 2
}

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "dev.sh: Perpetuum needs Python 3.11 or newer; none was found (set PYTHON=/path/to/python3.11)." >&2
    exit 1
}

# The CPU's instruction-set flags (empty where /proc/cpuinfo does not exist).
cpu_flags() {
    grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true
}

# install EXTRAS: EXTRAS is "" for the demo or "test" for the test suite.
install() {
    local extras="$1" target="." stamp digest
    [ -n "$extras" ] && target=".[$extras]"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "dev.sh: creating the virtual environment $VENV" >&2
        "$(find_python)" -m venv "$VENV"
    fi
    # The stamp changes with pyproject.toml, the pins, the build flags and the CPU's instruction sets, so a .venv
    # carried to another CPU is rebuilt instead of running code compiled for a different machine.
    digest="$("$VENV/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(open("pyproject.toml", "rb").read() + sys.argv[1].encode()).hexdigest())' "torch=$NEEDS_TORCH:$TORCH_PIN:$LLAMA_CPP_PIN:$CMAKE_ARGS:$(cpu_flags)")"
    stamp="$VENV/.perpetuum-installed-${extras:-base}"
    # The test install includes everything the demo needs, so its stamp serves the demo too.
    for candidate in "$stamp" "$VENV/.perpetuum-installed-test"; do
        if [ -f "$candidate" ] && [ "$(cat "$candidate")" = "$digest" ] && [ -x "$VENV/bin/perpetuum" ]; then
            return 0
        fi
    done
    echo "dev.sh: installing Perpetuum ($target) into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    if [ "$NEEDS_TORCH" = 1 ]; then
        "$VENV/bin/python" -m pip install --quiet "$TORCH_PIN"
    fi
    # Rebuilt only when the pin, the build flags or the CPU changed since the last build in this venv.
    local llama_stamp="$VENV/.llama-cpp-python-build" llama_build
    llama_build="$LLAMA_CPP_PIN $CMAKE_ARGS $(cpu_flags | cksum)"
    if [ "$(cat "$llama_stamp" 2>/dev/null)" != "$llama_build" ]; then
        echo "dev.sh: building $LLAMA_CPP_PIN from source for this CPU (about 5-7 minutes)" >&2
        "$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps --no-cache-dir \
            --no-binary llama-cpp-python "$LLAMA_CPP_PIN"
        echo "$llama_build" > "$llama_stamp"
    fi
    "$VENV/bin/python" -m pip install --quiet -e "$target"
    echo "$digest" > "$stamp"
}

# The report's browser test drives Debian's chromium through playwright (playwright's own browser download is never
# used). Installed here when missing and we are root; otherwise say how, and the browser test skips with the reason.
ensure_chromium() {
    [ -x /usr/bin/chromium ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "dev.sh: installing Debian's chromium for the report's browser test" >&2
        if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
               DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
            echo "dev.sh: installing chromium failed; tests/test_report_browser.py will be skipped." >&2
        fi
    else
        echo "dev.sh: /usr/bin/chromium is missing, so tests/test_report_browser.py will be skipped." >&2
        echo "        Install it with: sudo apt-get update && sudo apt-get install -y chromium" >&2
    fi
}

[ $# -ge 1 ] || usage
command="$1"
shift
case "$command" in
    demo)
        install ""
        exec "$VENV/bin/perpetuum" demo "$@"
        ;;
    test)
        # the test extra holds torch (for the local Hugging Face backend): pin it to the CPU build first
        NEEDS_TORCH=1
        # llama.cpp threads spin-wait for each other; one thread per model keeps parallel tests from starving
        export PERPETUUM_LLM_THREADS="${PERPETUUM_LLM_THREADS:-1}"
        install "test"
        # llama.cpp's own llama-server (parallel slots), from the same llama.cpp source, for the openai backend's
        # tests; built once per llama-cpp-python pin and CPU (scripts/build_llama_server.sh keeps a stamp).
        bash scripts/build_llama_server.sh "$VENV"
        ensure_chromium
        exec "$VENV/bin/python" -m pytest -q "$@"
        ;;
    *)
        usage
        ;;
esac
