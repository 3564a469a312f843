#!/usr/bin/env bash
# The GPU check in one prepared command.
#
#   bash benchmarks/gpu_check.sh --bundle   # here, with a package registry
#   bash benchmarks/gpu_check.sh [--smoke] [--out DIR]  # on the GPU machine
#
# --bundle puts into benchmarks/gpu_bundle/ (ignored by git) what a GPU
# machine without a package registry lacks: wheels of keras (the version
# installed here) and of its dependencies, and a copy of the SIGNS data
# ($KERAS_LRTOOLS_DATA). The check itself installs keras from those wheels
# into a virtual environment that sees the machine's own jax, torch and
# tensorboard, then runs with KERAS_BACKEND=jax: the recipe's --smoke run,
# then the whole --schedule all sweep (--smoke: the sweep's smoke run),
# and writes the device, each schedule's updates per second and wall time,
# and the sweep's wall time into benchmarks/results/gpu_check_<device>.md
# and .json. Exit status: 0 when every step passed.
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE="${GPU_BUNDLE:-benchmarks/gpu_bundle}"
PYTHON="${PYTHON:-python3}"

if [ "${1:-}" = "--bundle" ]; then
    rm -rf "$BUNDLE" && mkdir -p "$BUNDLE/wheels"
    version="$("$PYTHON" -c 'import keras; print(keras.__version__)')"
    # Pure-Python wheels, and binary ones for the Pythons a GPU image has.
    "$PYTHON" -m pip download -q --dest "$BUNDLE/wheels" --no-deps \
        "keras==$version" namex rich markdown-it-py mdurl pygments absl-py
    for py in 3.10 3.11 3.12 3.13; do
        "$PYTHON" -m pip download -q --dest "$BUNDLE/wheels" --no-deps \
            --only-binary=:all: --python-version "$py" \
            --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
            optree h5py
    done
    cp -r "${KERAS_LRTOOLS_DATA:?set KERAS_LRTOOLS_DATA to the SIGNS folder}" \
        "$BUNDLE/signs"
    du -sh "$BUNDLE"
    exit 0
fi

if [ ! -d "$BUNDLE/wheels" ]; then
    echo "gpu_check.sh: no $BUNDLE; run: bash benchmarks/gpu_check.sh --bundle" >&2
    exit 2
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# keras from the bundle, and those of its dependencies the machine lacks,
# first on the path; the machine's own jax, torch and tensorboard.
missing="$("$PYTHON" - <<'PY'
import importlib.util
needed = {"namex": "namex", "optree": "optree", "rich": "rich",
          "markdown_it": "markdown-it-py", "mdurl": "mdurl",
          "pygments": "pygments", "absl": "absl-py", "h5py": "h5py"}
print(" ".join(p for m, p in needed.items()
               if importlib.util.find_spec(m) is None))
PY
)"
# shellcheck disable=SC2086
"$PYTHON" -m pip install -q --no-index --no-deps --target "$work/site" \
    --find-links "$BUNDLE/wheels" keras $missing
export PYTHONPATH="$work/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export KERAS_BACKEND=jax
export KERAS_LRTOOLS_DATA="${KERAS_LRTOOLS_DATA:-$(cd "$BUNDLE/signs" && pwd)}"
"$PYTHON" benchmarks/gpu_report.py --logs "$work/logs" "$@"
