#!/usr/bin/env bash
# Benchmarks Warden alone: builds `warden` and `warden-bench` in release, starts Warden on its
# embedded SQLite default in a fresh temporary directory (pinned to CPU 0), configures it with
# the admin CLI, smoke-checks what it issues, runs every scenario with the load generator
# pinned to CPU 1, and prints a table. See bench/README.md.
#
# Environment: BENCH_DURATION (10s), BENCH_WARMUP (2s), BENCH_CONCURRENCY (32),
# BENCH_TOKENS (1000), BENCH_ROUNDS (1), BENCH_RATE (an extra fixed-rate cc-basic ES256 run, e.g. 2000),
# BENCH_WARDEN_PORT (18080), BENCH_RESULTS (JSON lines file), BENCH_KEEP=1 (keep the work dir).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_bench
build_warden || die "warden does not build yet (cargo build --release -p warden-server)"
command -v node >/dev/null 2>&1 || die "node is needed to read the CLI's JSON output"
make_workdir
make_client_key
warn_if_busy

for round in $(seq 1 "$ROUNDS"); do
    [ "$ROUNDS" = 1 ] || log "round $round of $ROUNDS"
    bench_warden "$(free_port "${BENCH_WARDEN_PORT:-18080}")" "${BENCH_RATE:-}" ||
        die "warden could not be benchmarked (BENCH_KEEP=1 keeps the work directory and its logs)"
done

echo
"$BENCH_BIN" table --results "$RESULTS"
echo
log "results: $RESULTS"
