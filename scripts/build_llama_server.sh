#!/usr/bin/env bash
# Build llama.cpp's own OpenAI-compatible server, `llama-server`, from the same llama.cpp source that the pinned
# llama-cpp-python release vendors, for the CPU of this machine, and install it as VENV/bin/llama-server.
#
#   bash scripts/build_llama_server.sh [VENV]        # VENV defaults to .venv; about 5-8 minutes on 2 cores
#
# Why: llama-cpp-python's own server answers one request at a time, while llama-server serves several requests in
# parallel slots with continuous batching. The `openai` backend is tested and benchmarked against it
# (perpetuum.llm.server.LlamaCppServer). The source is the pinned sdist from the package registry (`pip download`),
# so the server and the in-process backend run the same llama.cpp. It is built without its web UI (nothing is
# downloaded at build time) and linked statically, so the binary needs nothing from the venv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV="${1:-${PERPETUUM_VENV:-.venv}}"
PIN="$(grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml | head -n 1)"
[ -n "$PIN" ] || { echo "build_llama_server.sh: no llama-cpp-python==VERSION pin in pyproject.toml" >&2; exit 1; }
VERSION="${PIN#llama-cpp-python==}"
STAMP="$VENV/.llama-server-stamp"
WANTED="$PIN $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cksum)"

if [ -x "$VENV/bin/llama-server" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANTED" ]; then
    exit 0
fi
for tool in cmake g++; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "build_llama_server.sh: $tool is missing; install it (Debian: apt-get install -y cmake g++)" >&2
        exit 1
    fi
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
echo "build_llama_server.sh: building llama-server from llama-cpp-python $VERSION's llama.cpp (5-8 minutes)" >&2
"$VENV/bin/python" -m pip download --quiet --no-deps --no-binary :all: --no-cache-dir -d "$WORK" "$PIN"
tar -xzf "$WORK"/llama_cpp_python-"$VERSION".tar.gz -C "$WORK"
SOURCE="$WORK/llama_cpp_python-$VERSION/vendor/llama.cpp"
cmake -S "$SOURCE" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    >"$WORK/configure.log" 2>&1 || { tail -n 40 "$WORK/configure.log" >&2; exit 1; }
cmake --build "$WORK/build" --target llama-server -j "$(nproc)" >"$WORK/build.log" 2>&1 ||
    { tail -n 40 "$WORK/build.log" >&2; exit 1; }
install -m 755 "$WORK/build/bin/llama-server" "$VENV/bin/llama-server"
echo "$WANTED" >"$STAMP"
echo "build_llama_server.sh: installed $VENV/bin/llama-server" >&2
