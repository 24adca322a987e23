#!/bin/sh
# The service-to-service demo in one command, from a clean checkout (examples/README.md):
# builds Warden and the examples, then runs services_demo, which sets Warden up with its CLI in
# a temporary directory, starts it and three services, and checks every step of the scenario.
# Extra arguments go to services_demo. Exit status 0 only if every check passed.
set -eu
cd "$(dirname "$0")/.."
cargo build -p warden-server -p warden-examples --bins
target_dir=${CARGO_TARGET_DIR:-target}
exec "$target_dir/debug/services_demo" --warden "$target_dir/debug/warden" "$@"
