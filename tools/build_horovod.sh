#!/usr/bin/env bash
# Build Horovod 0.28.1 for this course's PyTorch and install it into the course's venv.
#
#   tools/build_horovod.sh            # install; build only when no cached wheel fits
#   tools/build_horovod.sh --force    # rebuild the wheel even when one is cached
#   tools/build_horovod.sh --check    # exit 0 if the right Horovod is importable, else 1
#   tools/build_horovod.sh --wheel-only  # build (or find) the cached wheel; install nothing
#
# Why a build step: Horovod's last release (0.28.1, June 2023) has no wheels on PyPI, and
# its source does not compile against current PyTorch as shipped. Two changes fix that:
#   1. C++17 instead of C++14 (PyTorch's headers need C++17): CMakeLists.txt and
#      horovod/torch/CMakeLists.txt say CMAKE_CXX_STANDARD 14; we patch both to 17.
#   2. CMAKE_POLICY_VERSION_MINIMUM=3.5 in the environment: CMake 4 refuses the
#      cmake_minimum_required of the Gloo copy bundled in the sdist.
# Frameworks: PyTorch only; collectives: Gloo (CPU, and the launcher horovodrun --gloo),
# plus NCCL when torch is a CUDA build and nvcc is found. No MPI.
#
# Reproducible: the sdist is fetched with pip (an sdist, never a wheel) and its SHA-256 must
# equal the one recorded below. The wheel is cached under $COURSEKIT_WHEEL_CACHE (default
# ~/.cache/coursekit/wheels), in a folder named by Horovod's version, the torch version, the
# Python tag, the collective operations and this recipe's revision: a later run, a `make
# clean` or a fresh clone on the same machine installs the cached wheel in seconds, and
# a run that finds the right Horovod already importable does nothing at all.
#
# Environment: PYTHON (default .venv/bin/python), COURSEKIT_WHEEL_CACHE, MAKEFLAGS
# (default -j<cores>), HOROVOD_BUILD_LOG (default build/horovod/build.log).
set -euo pipefail

HOROVOD_VERSION=0.28.1
SDIST_SHA256=92a43f5a94c43907a56805bad15f19700c62ffc83b7ca483f9e104e229f67ef0
RECIPE=r1 # bump when the patch or the build flags change: it invalidates cached wheels

cd "$(dirname "$0")/.."
REPO=$(pwd)
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
CACHE=${COURSEKIT_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/coursekit/wheels}
LOG=${HOROVOD_BUILD_LOG:-$REPO/build/horovod/build.log}
MODE=install
case "${1:-}" in
    "") ;;
    --force) MODE=force ;;
    --check) MODE=check ;;
    --wheel-only) MODE=wheel ;;
    -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "build_horovod: unknown option ${1} (allowed: --force, --check, --wheel-only)" >&2; exit 2 ;;
esac

say() { echo "build_horovod: $*"; }
fail() {
    # What failed, where its log is, how to retry. The rest of the course works without
    # Horovod: its notebook and tests say so instead of running.
    echo "build_horovod: FAILED: $1" >&2
    if [ -f "$LOG" ]; then
        # the compiler's or CMake's own first errors, then the end of the log
        if grep -q -E "CMake Error|: error:" "$LOG"; then
            echo "--- first errors in $LOG ---" >&2
            grep -m 6 -A 4 -E "CMake Error|: error:" "$LOG" >&2 || true
        fi
        echo "--- last lines of $LOG ---" >&2; tail -n 15 "$LOG" >&2; echo "---" >&2
    fi
    echo "build_horovod: full log: $LOG" >&2
    echo "build_horovod: retry with: make horovod   (or tools/build_horovod.sh --force to rebuild)" >&2
    exit 1
}

[ -x "$PYTHON" ] || fail "no Python at $PYTHON (run make install first, or set PYTHON=)"
mkdir -p "$(dirname "$LOG")"

# --- What to build: torch's version, the Python tag, CPU or CUDA --------------------------
read -r TORCH_VERSION PY_TAG TORCH_CUDA < <("$PYTHON" - <<'EOF'
import sys, torch
print(torch.__version__, f"cp{sys.version_info[0]}{sys.version_info[1]}", torch.version.cuda or "none")
EOF
) || fail "could not import torch with $PYTHON"

NVCC=$(command -v nvcc || { [ -n "${CUDA_HOME:-}" ] && [ -x "$CUDA_HOME/bin/nvcc" ] && echo "$CUDA_HOME/bin/nvcc"; } || true)
if [ "$TORCH_CUDA" != none ] && [ -n "$NVCC" ]; then
    OPS="gloo-nccl-cu${TORCH_CUDA//./}"
    export HOROVOD_GPU_OPERATIONS=NCCL
    # The pip package nvidia-nccl-cu* (a dependency of CUDA builds of torch) has NCCL's
    # headers and library; use it unless HOROVOD_NCCL_HOME says otherwise.
    if [ -z "${HOROVOD_NCCL_HOME:-}" ]; then
        NCCL_DIR=$("$PYTHON" -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__) if nvidia.nccl.__file__ else list(nvidia.nccl.__path__)[0])' 2>/dev/null || true)
        if [ -n "$NCCL_DIR" ] && [ -d "$NCCL_DIR/include" ]; then
            export HOROVOD_NCCL_HOME=$NCCL_DIR HOROVOD_NCCL_LINK=SHARED
            # the wheel ships libnccl.so.2 only; the linker looks for libnccl.so
            [ -e "$NCCL_DIR/lib/libnccl.so" ] || ln -sf libnccl.so.2 "$NCCL_DIR/lib/libnccl.so"
        fi
    fi
else
    OPS=gloo
    if [ "$TORCH_CUDA" != none ]; then
        # Loud: a Gloo-only Horovod on a GPU machine cannot allreduce CUDA tensors, and
        # notebook 10 would run its ranks on the CPU (coursekit.distributed says so too).
        {
            echo "build_horovod: ================================================================"
            echo "build_horovod: WARNING: torch is a CUDA $TORCH_CUDA build but nvcc was not found"
            echo "build_horovod: (not on PATH, not in \$CUDA_HOME/bin): building Horovod for CPU (Gloo)"
            echo "build_horovod: only, WITHOUT NCCL. Its ranks cannot use the GPUs."
            echo "build_horovod: To build with NCCL: install the CUDA toolkit $TORCH_CUDA (nvcc), set"
            echo "build_horovod: CUDA_HOME=/path/to/cuda, then run: tools/build_horovod.sh --force"
            echo "build_horovod: ================================================================"
        } >&2
    fi
fi
KEY="horovod-${HOROVOD_VERSION}_torch-${TORCH_VERSION}_${PY_TAG}_${OPS}_${RECIPE}"
VENV=$("$PYTHON" -c 'import sys; print(sys.prefix)')
MARKER="$VENV/.horovod-installed"

installed_ok() {
    [ "$(cat "$MARKER" 2>/dev/null)" = "$KEY" ] || return 1
    HOROVOD_WANT_NCCL=$([ "$OPS" = gloo ] && echo 0 || echo 1) "$PYTHON" - <<EOF >/dev/null 2>&1
import os
import horovod
import horovod.torch as hvd  # loads the compiled extension: fails if built for another torch
assert horovod.__version__ == "$HOROVOD_VERSION", horovod.__version__
assert hvd.gloo_built()
if os.environ["HOROVOD_WANT_NCCL"] == "1":
    assert hvd.nccl_built()
EOF
}

if [ "$MODE" = check ]; then
    installed_ok && { say "Horovod $HOROVOD_VERSION ($OPS) is installed: $KEY"; exit 0; }
    say "Horovod $HOROVOD_VERSION for torch $TORCH_VERSION ($OPS) is not installed"; exit 1
fi
if [ "$MODE" = install ] && installed_ok; then
    say "Horovod $HOROVOD_VERSION ($OPS) already installed for torch $TORCH_VERSION; nothing to do"
    exit 0
fi

# pip must never touch torch here: every pip call below runs under this constraint.
CONSTRAINTS=$(mktemp)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/build_horovod.XXXXXX")
trap 'rm -rf "$CONSTRAINTS" "$WORK"' EXIT
echo "torch==$TORCH_VERSION" >"$CONSTRAINTS"

install_wheel() {
    say "installing $1"
    "$PYTHON" -m pip install --quiet --force-reinstall --no-deps "$1" >>"$LOG" 2>&1 \
        || fail "pip could not install the wheel $1"
    # Horovod's own (pure Python) dependencies; torch is held where it is.
    "$PYTHON" -m pip install --quiet -c "$CONSTRAINTS" cloudpickle psutil pyyaml packaging >>"$LOG" 2>&1 \
        || fail "pip could not install Horovod's dependencies (cloudpickle psutil pyyaml packaging)"
    echo "$KEY" >"$MARKER"
    installed_ok || fail "the installed Horovod does not import (python -c 'import horovod.torch')"
    say "installed Horovod $HOROVOD_VERSION ($OPS) for torch $TORCH_VERSION"
}

WHEEL_DIR="$CACHE/$KEY"
: >"$LOG"
if [ "$MODE" != force ]; then
    cached=$(ls "$WHEEL_DIR"/horovod-*.whl 2>/dev/null | head -n 1 || true)
    if [ -n "$cached" ]; then
        say "using the cached wheel (no build): $cached"
        [ "$MODE" = wheel ] || install_wheel "$cached"
        exit 0
    fi
fi

# --- The source: pip download of the sdist, checked against the recorded SHA-256 ---------
SDIST_DIR="$CACHE/sdist"
SDIST="$SDIST_DIR/horovod-$HOROVOD_VERSION.tar.gz"
mkdir -p "$SDIST_DIR"
sha_ok() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SDIST_SHA256" ]; }
if ! { [ -f "$SDIST" ] && sha_ok "$SDIST"; }; then
    say "downloading the sdist of horovod==$HOROVOD_VERSION"
    "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: "horovod==$HOROVOD_VERSION" \
        -d "$WORK/download" >>"$LOG" 2>&1 || fail "pip download of the horovod==$HOROVOD_VERSION sdist"
    mv "$WORK/download/horovod-$HOROVOD_VERSION.tar.gz" "$SDIST.part"
    if ! sha_ok "$SDIST.part"; then
        got=$(sha256sum "$SDIST.part" | cut -d' ' -f1)
        rm -f "$SDIST.part"
        fail "the sdist's SHA-256 is $got, expected $SDIST_SHA256: not the file this recipe was made for"
    fi
    mv "$SDIST.part" "$SDIST"
fi
say "sdist OK: $SDIST (sha256 $SDIST_SHA256)"

# --- Patch: C++17 -----------------------------------------------------------------------
tar -xzf "$SDIST" -C "$WORK"
SRC="$WORK/horovod-$HOROVOD_VERSION"
for f in CMakeLists.txt horovod/torch/CMakeLists.txt; do
    grep -q 'set(CMAKE_CXX_STANDARD 14)' "$SRC/$f" || fail "patch: no 'set(CMAKE_CXX_STANDARD 14)' in $f"
    sed -i 's/set(CMAKE_CXX_STANDARD 14)/set(CMAKE_CXX_STANDARD 17)/' "$SRC/$f"
done
say "patched CMAKE_CXX_STANDARD 14 -> 17 in CMakeLists.txt and horovod/torch/CMakeLists.txt"

# --- Build the wheel ----------------------------------------------------------------------
# cmake from the venv (pip's cmake, the `distributed` extra) if there, else from PATH.
if [ -x "$VENV/bin/cmake" ]; then export HOROVOD_CMAKE="$VENV/bin/cmake"; fi
command -v "${HOROVOD_CMAKE:-cmake}" >/dev/null \
    || fail "no cmake: pip install cmake (it is in coursekit's 'distributed' extra)"
export CMAKE_POLICY_VERSION_MINIMUM=3.5
export HOROVOD_WITH_PYTORCH=1 HOROVOD_WITHOUT_TENSORFLOW=1 HOROVOD_WITHOUT_MXNET=1
export HOROVOD_WITHOUT_MPI=1 HOROVOD_WITH_GLOO=1
export MAKEFLAGS=${MAKEFLAGS:--j$(nproc)}
say "building the wheel ($OPS, torch $TORCH_VERSION, $PY_TAG, MAKEFLAGS=$MAKEFLAGS); log: $LOG"
start=$(date +%s)
"$PYTHON" -m pip wheel --no-build-isolation --no-deps -w "$WORK/wheel" "$SRC" >>"$LOG" 2>&1 \
    || fail "the wheel build (cmake/g++) of Horovod $HOROVOD_VERSION"
say "built in $(($(date +%s) - start)) s"

built=$(ls "$WORK"/wheel/horovod-*.whl)
mkdir -p "$WHEEL_DIR"
cp "$built" "$WHEEL_DIR/"
cat >"$WHEEL_DIR/build-info.txt" <<EOF
horovod $HOROVOD_VERSION from $SDIST (sha256 $SDIST_SHA256)
patch: CMAKE_CXX_STANDARD 14 -> 17; CMAKE_POLICY_VERSION_MINIMUM=3.5
torch $TORCH_VERSION, $PY_TAG, ops $OPS, recipe $RECIPE
cmake: $("${HOROVOD_CMAKE:-cmake}" --version | head -n 1); $(g++ --version | head -n 1)
built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(($(date +%s) - start)) s on $(nproc) cores
EOF
say "cached: $WHEEL_DIR/$(basename "$built")"
[ "$MODE" = wheel ] || install_wheel "$WHEEL_DIR/$(basename "$built")"
