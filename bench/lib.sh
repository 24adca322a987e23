# Shared by bench/run.sh and bench/compare.sh: building, starting and stopping the servers,
# configuring them, smoke-checking what they issue, and running scenarios. Sourced, not run.
#
# Every wait is bounded and every server this file starts is stopped by its own PID on exit.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WARDEN_BIN=$TARGET_DIR/release/warden
BENCH_BIN=$TARGET_DIR/release/warden-bench

# Knobs (environment): the same for every target in a run.
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
CONCURRENCY=${BENCH_CONCURRENCY:-32}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
TOKENS=${BENCH_TOKENS:-1000}
# Pause between scenarios, so one scenario's tail (GC, WAL checkpoint) does not land in the next.
SETTLE_SECONDS=${BENCH_SETTLE_SECONDS:-1}

API_ES256=https://bench.example/api
API_RS256=https://bench.example/api-rs256
API_OPAQUE=https://bench.example/api-opaque
JWT_BEARER=urn:ietf:params:oauth:client-assertion-type:jwt-bearer

SERVER_PID=""
WORK=""
WARDEN_DIR=""
# Rounds: each target is measured this many times, alternately; the tables keep every run and
# the comparison takes each target's best, which filters out interference from other work.
# shellcheck disable=SC2034 # read by run.sh and compare.sh
ROUNDS=${BENCH_ROUNDS:-1}

log() { echo "bench: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# Pinning: the server on one core, the load generator on the other.
PIN=1
if ! command -v taskset >/dev/null 2>&1; then
    log "warning: taskset not found; running unpinned"
    PIN=0
elif [ "$(nproc --all)" -lt 2 ]; then
    log "warning: fewer than 2 CPUs; running unpinned"
    PIN=0
fi

# pinned CPU COMMAND...: runs COMMAND on CPU (exec'd, so a background PID is the command's).
pinned() {
    local cpu=$1
    shift
    if [ "$PIN" = 1 ]; then
        exec taskset -c "$cpu" "$@"
    else
        exec "$@"
    fi
}

# warn_if_busy: the server and the generator each assume a CPU to themselves; say so when
# something else keeps the CPUs busy (sampled over one second from /proc/stat).
warn_if_busy() {
    local a b
    a=$(head -n 1 /proc/stat 2>/dev/null) || return 0
    sleep 1
    b=$(head -n 1 /proc/stat 2>/dev/null) || return 0
    local busy
    busy=$(awk -v a="$a" -v b="$b" 'BEGIN {
        n = split(a, x); split(b, y); total = 0
        for (i = 2; i <= n; i++) total += y[i] - x[i]
        idle = (y[5] - x[5]) + (y[6] - x[6])
        printf "%d", (total > 0) ? 100 * (total - idle) / total : 0
    }')
    if [ "$busy" -gt 10 ]; then
        log "warning: the CPUs are ${busy}% busy before the runs: other work shares them, expect noisy numbers"
    fi
}

make_workdir() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/warden-bench.XXXXXX")
    RESULTS=${BENCH_RESULTS:-${TMPDIR:-/tmp}/warden-bench-results-$(date +%Y%m%d-%H%M%S).jsonl}
    : >"$RESULTS"
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}

cleanup() {
    stop_server
    if [ -n "$WORK" ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
        rm -rf "$WORK"
    elif [ -n "$WORK" ]; then
        log "kept work directory $WORK"
    fi
}

build_bench() {
    log "building warden-bench (release)"
    (cd "$ROOT" && cargo build --release -p warden-bench) || die "warden-bench does not build"
}

# Returns non-zero if the server does not build; the caller decides whether that is fatal.
build_warden() {
    log "building warden (release)"
    (cd "$ROOT" && cargo build --release -p warden-server) && [ -x "$WARDEN_BIN" ]
}

install_peer() {
    command -v node >/dev/null 2>&1 || die "node is required for the oidc-provider peer"
    log "installing the oidc-provider peer (npm ci)"
    (cd "$BENCH_DIR/peer" && npm ci --no-audit --no-fund --loglevel=error >&2) ||
        die "npm ci failed in bench/peer"
}

# The private_key_jwt client's ES256 key, shared by both servers.
make_client_key() {
    "$BENCH_BIN" keygen --kid bench-es256 --private-out "$WORK/client-key.json" --jwks-out "$WORK/client-jwks.json"
}

# free_port START: the first port from START on that nothing listens on.
free_port() {
    local port=$1 i
    for i in $(seq 0 99); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$((port + i))") 2>/dev/null; then
            echo $((port + i))
            return 0
        fi
    done
    die "no free port in $port..$((port + 99))"
}

# wait_http URL: until URL answers 2xx, for at most 30 s, while the server is alive.
wait_http() {
    local url=$1 i
    for i in $(seq 1 150); do
        if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
            return 0
        fi
        if [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
            return 1
        fi
        sleep 0.2
    done
    return 1
}

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        local i
        for i in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$SERVER_PID" 2>/dev/null && kill -9 "$SERVER_PID" 2>/dev/null
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# json_field NAME: prints member NAME of the JSON object on stdin.
json_field() {
    node -e '
        let s = "";
        process.stdin.on("data", (d) => (s += d)).on("end", () => {
            const v = JSON.parse(s)[process.argv[1]];
            if (v === undefined || v === null) process.exit(1);
            console.log(v);
        });' "$1"
}

# describe_token EXPECTED: reads a token response on stdin, prints what the access token is
# (decoded JWS header, or "opaque"), and fails unless it is EXPECTED (ES256, RS256 or opaque).
describe_token() {
    # shellcheck disable=SC2016 # a JavaScript template literal, not a shell expansion
    node -e '
        let s = "";
        process.stdin.on("data", (d) => (s += d)).on("end", () => {
            const expected = process.argv[1];
            let body;
            try { body = JSON.parse(s); } catch { body = {}; }
            const token = body.access_token;
            if (typeof token !== "string") {
                console.log(`no access token: ${s.slice(0, 300)}`);
                process.exit(1);
            }
            const parts = token.split(".");
            if (parts.length === 3) {
                const header = JSON.parse(Buffer.from(parts[0], "base64url").toString());
                console.log(`JWT, header ${JSON.stringify(header)}`);
                process.exit(header.alg === expected ? 0 : 1);
            }
            console.log(`opaque (${token.length} characters)`);
            process.exit(expected === "opaque" ? 0 : 1);
        });' "$1"
}

# smoke TARGET URL TOKEN_PATH INTROSPECT_PATH BASIC_ID BASIC_SECRET PKJWT_ID:
# one token of each kind, decoded, and one introspection; fails on anything unexpected.
smoke() {
    local target=$1 url=$2 token_path=$3 introspect_path=$4 id=$5 secret=$6 pk_id=$7
    local ok=1 answer token line spec
    log "smoke check of $target:"
    for spec in "ES256 $API_ES256" "RS256 $API_RS256" "opaque $API_OPAQUE"; do
        local expect=${spec%% *} api=${spec#* }
        answer=$(curl -sS --max-time 10 -u "$id:$secret" --data-urlencode grant_type=client_credentials \
            --data-urlencode "resource=$api" "$url$token_path") || answer='{}'
        if line=$(describe_token "$expect" <<<"$answer"); then
            log "  client_secret_basic, $api -> $line"
        else
            log "  client_secret_basic, $api -> $line (expected $expect)"
            ok=0
        fi
        if [ "$expect" = opaque ]; then
            token=$(json_field access_token <<<"$answer" || true)
        fi
    done
    local assertion
    assertion=$("$BENCH_BIN" assertion --key-file "$WORK/client-key.json" --client-id "$pk_id" --audience "$url$token_path")
    answer=$(curl -sS --max-time 10 --data-urlencode grant_type=client_credentials \
        --data-urlencode "resource=$API_ES256" --data-urlencode "client_assertion_type=$JWT_BEARER" \
        --data-urlencode "client_assertion=$assertion" "$url$token_path") || answer='{}'
    if line=$(describe_token ES256 <<<"$answer"); then
        log "  private_key_jwt, $API_ES256 -> $line"
    else
        log "  private_key_jwt, $API_ES256 -> $line (expected ES256)"
        ok=0
    fi
    if [ -n "${token:-}" ]; then
        answer=$(curl -sS --max-time 10 -u "$id:$secret" --data-urlencode "token=$token" "$url$introspect_path") || answer='{}'
        if [ "$(json_field active <<<"$answer" 2>/dev/null)" = true ]; then
            log "  introspection of the opaque token -> active"
        else
            log "  introspection of the opaque token -> ${answer:0:300} (expected active)"
            ok=0
        fi
    fi
    [ "$ok" = 1 ]
}

# scenario TARGET URL SCENARIO LABEL [warden-bench run flags...]: one run, its JSON line
# appended to $RESULTS. A failed run is reported and skipped, not fatal.
scenario() {
    local target=$1 url=$2 name=$3 label=$4
    shift 4
    # Only the scenario (and a fixed rate) is logged.
    local note="" prev="" arg line
    for arg in "$@"; do
        [ "$prev" = --rate ] && note=" at $arg/s"
        prev=$arg
    done
    sleep "$SETTLE_SECONDS"
    log "$target: $name $label$note"
    if line=$(pinned_run "$CLIENT_CPU" "$BENCH_BIN" run "$name" --url "$url" --target "$target" --label "$label" \
        --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" "$@"); then
        echo "$line" >>"$RESULTS"
        echo "$line"
    else
        log "$target: $name $label failed"
    fi
}

# pinned_run CPU COMMAND...: like pinned, in a subshell, for a foreground command.
pinned_run() {
    (pinned "$@")
}

# --- Warden ---------------------------------------------------------------------------------

# The admin CLI acts on the same SQLite file as the server: same working directory, same URL.
warden_cli() {
    (cd "$WARDEN_DIR" && "$WARDEN_BIN" --database sqlite://warden.db "$@")
}

# setup_warden: the three APIs and the two clients, exactly through the documented CLI.
# Sets WARDEN_BASIC_ID, WARDEN_BASIC_SECRET, WARDEN_PKJWT_ID.
setup_warden() {
    mkdir -p "$WARDEN_DIR"
    warden_cli api create "$API_ES256" --scopes "read write" --signing-alg ES256 >>"$WARDEN_DIR/setup.log" || return 1
    warden_cli api create "$API_RS256" --scopes "read write" --signing-alg RS256 >>"$WARDEN_DIR/setup.log" || return 1
    warden_cli api create "$API_OPAQUE" --scopes "read write" --token-format opaque >>"$WARDEN_DIR/setup.log" || return 1
    local basic pkjwt
    basic=$(warden_cli client create --name bench --auth-method client_secret_basic \
        --grant-type client_credentials --scope "read write" \
        --audience "$API_ES256" --audience "$API_RS256" --audience "$API_OPAQUE") || return 1
    pkjwt=$(warden_cli client create --name bench-pkjwt --auth-method private_key_jwt \
        --grant-type client_credentials --scope "read write" \
        --audience "$API_ES256" --jwks-file "$WORK/client-jwks.json") || return 1
    WARDEN_BASIC_ID=$(json_field client_id <<<"$basic") || return 1
    WARDEN_BASIC_SECRET=$(json_field client_secret <<<"$basic") || return 1
    WARDEN_PKJWT_ID=$(json_field client_id <<<"$pkjwt") || return 1
}

# start_warden PORT: `warden serve` on the embedded SQLite default, pinned to the server CPU.
start_warden() {
    local port=$1
    (cd "$WARDEN_DIR" && export RUST_LOG=${BENCH_WARDEN_LOG:-warn} && pinned "$SERVER_CPU" "$WARDEN_BIN" \
        --database sqlite://warden.db serve --listen "127.0.0.1:$port" --issuer "http://127.0.0.1:$port") \
        >"$WARDEN_DIR/warden.log" 2>&1 &
    SERVER_PID=$!
    if ! wait_http "http://127.0.0.1:$port/healthz"; then
        log "warden did not become healthy; its log:"
        tail -n 30 "$WARDEN_DIR/warden.log" >&2
        stop_server
        return 1
    fi
    log "warden listening on 127.0.0.1:$port (pid $SERVER_PID)"
}

# bench_warden PORT [RATE]: set up, start, smoke-check and measure Warden, on a fresh database
# in a directory of its own (one per round).
bench_warden() {
    local port=$1 rate=${2:-}
    WARDEN_DIR=$(mktemp -d "$WORK/warden.XXXXXX")
    local url=http://127.0.0.1:$port
    setup_warden || {
        log "warden setup through the CLI failed"
        return 1
    }
    start_warden "$port" || return 1
    smoke warden "$url" /token /introspect "$WARDEN_BASIC_ID" "$WARDEN_BASIC_SECRET" "$WARDEN_PKJWT_ID" ||
        log "warning: warden's smoke check failed; measuring anyway"
    # The secret reaches warden-bench through its environment, not its command line.
    export BENCH_CLIENT_SECRET=$WARDEN_BASIC_SECRET
    local basic=(--client-id "$WARDEN_BASIC_ID")
    scenario warden "$url" cc-basic ES256 "${basic[@]}" --resource "$API_ES256"
    scenario warden "$url" cc-basic RS256 "${basic[@]}" --resource "$API_RS256"
    scenario warden "$url" cc-pkjwt ES256 --client-id "$WARDEN_PKJWT_ID" --key-file "$WORK/client-key.json" \
        --resource "$API_ES256" --token-endpoint "$url/token"
    scenario warden "$url" introspect opaque "${basic[@]}" --resource "$API_OPAQUE" --tokens "$TOKENS" \
        --introspect-path /introspect
    if [ -n "$rate" ]; then
        scenario warden "$url" cc-basic ES256 "${basic[@]}" --resource "$API_ES256" --rate "$rate"
    fi
    stop_server
}

# --- oidc-provider --------------------------------------------------------------------------

PEER_BASIC_ID=bench-basic
PEER_PKJWT_ID=bench-pkjwt

# bench_peer PORT: start, smoke-check and measure oidc-provider.
bench_peer() {
    local port=$1
    local url=http://127.0.0.1:$port
    local secret
    secret=$(head -c 32 /dev/urandom | base64 | tr -d '/+=\n')
    (cd "$BENCH_DIR/peer" && export NODE_ENV=production && pinned "$SERVER_CPU" node server.mjs --port "$port" \
        --client-jwks "$WORK/client-jwks.json" --basic-client-id "$PEER_BASIC_ID" --basic-client-secret "$secret" \
        --pkjwt-client-id "$PEER_PKJWT_ID" --api-es256 "$API_ES256" --api-rs256 "$API_RS256" \
        --api-opaque "$API_OPAQUE") >>"$WORK/peer.log" 2>&1 &
    SERVER_PID=$!
    if ! wait_http "$url/.well-known/openid-configuration"; then
        log "oidc-provider did not start; its log:"
        tail -n 30 "$WORK/peer.log" >&2
        stop_server
        return 1
    fi
    log "oidc-provider listening on 127.0.0.1:$port (pid $SERVER_PID)"
    smoke oidc-provider "$url" /token /token/introspection "$PEER_BASIC_ID" "$secret" "$PEER_PKJWT_ID" || {
        log "oidc-provider's smoke check failed; not measuring it"
        stop_server
        return 1
    }
    export BENCH_CLIENT_SECRET=$secret
    local basic=(--client-id "$PEER_BASIC_ID")
    scenario oidc-provider "$url" cc-basic ES256 "${basic[@]}" --resource "$API_ES256"
    scenario oidc-provider "$url" cc-basic RS256 "${basic[@]}" --resource "$API_RS256"
    scenario oidc-provider "$url" cc-pkjwt ES256 --client-id "$PEER_PKJWT_ID" --key-file "$WORK/client-key.json" \
        --resource "$API_ES256" --token-endpoint "$url/token"
    # The peer's default in-memory adapter is an LRU of 1000-2000 entries: more tokens than
    # that are evicted and introspect as inactive, so the token count stays at 1000.
    scenario oidc-provider "$url" introspect opaque "${basic[@]}" --resource "$API_OPAQUE" --tokens "$TOKENS" \
        --introspect-path /token/introspection
    stop_server
}
