#!/usr/bin/env bash
# Benchmark set-up: wrk (a C HTTP load generator) from Debian's packages, as .ci/run installs
# chromium. The benches also need PostgreSQL and Redis running (see bench/wrk_bench.py).
set -euo pipefail
if ! command -v wrk >/dev/null 2>&1; then
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends wrk
fi
wrk --version 2>&1 | head -1 || true
