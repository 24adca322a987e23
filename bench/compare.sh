#!/usr/bin/env bash
# Warden against oidc-provider (bench/peer), in one run: the same scenarios, the same pinning
# (server on CPU 0, load generator on CPU 1), the same concurrency and duration, one server at
# a time. The peer goes first, so that Warden can then also be driven at the peer's peak
# cc-basic ES256 rate to measure its p99 there. Prints every run and the Warden/peer ratios
# next to their goals. See bench/README.md.
#
# Environment: BENCH_DURATION (10s), BENCH_WARMUP (2s), BENCH_CONCURRENCY (32),
# BENCH_TOKENS (1000), BENCH_ROUNDS (1), BENCH_WARDEN_PORT (18080), BENCH_PEER_PORT (19090),
# BENCH_RESULTS (JSON lines file), BENCH_KEEP=1 (keep the work dir).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_bench
warden_built=1
build_warden || {
    warden_built=0
    log "warning: warden does not build yet; measuring the peer only"
}
install_peer
make_workdir
make_client_key
warn_if_busy

warden_measured=0
for round in $(seq 1 "$ROUNDS"); do
    [ "$ROUNDS" = 1 ] || log "round $round of $ROUNDS"
    bench_peer "$(free_port "${BENCH_PEER_PORT:-19090}")" || log "warning: the peer could not be benchmarked"
    if [ "$warden_built" = 1 ]; then
        # The best peer rate so far: Warden's p99 is measured at the peer's peak.
        peak=$("$BENCH_BIN" peak-rate --results "$RESULTS" --peer oidc-provider 2>/dev/null || true)
        [ -n "$peak" ] || log "warning: no peer peak rate; skipping the fixed-rate run"
        if bench_warden "$(free_port "${BENCH_WARDEN_PORT:-18080}")" "$peak"; then
            warden_measured=1
        else
            log "warning: warden could not be benchmarked"
        fi
    fi
done

echo
echo "Every run (concurrency $CONCURRENCY, warm-up $WARMUP, window $DURATION; server on CPU $SERVER_CPU, load on CPU $CLIENT_CPU):"
"$BENCH_BIN" table --results "$RESULTS"
echo
echo "Warden / oidc-provider (best run of each):"
"$BENCH_BIN" compare --results "$RESULTS" --ours warden --peer oidc-provider
echo
log "results: $RESULTS"
[ "$warden_measured" = 1 ] || exit 2
