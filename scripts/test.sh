#!/usr/bin/env bash
# The whole test suite, as CI runs it: dependencies, guest images (cached), formatting, lints,
# every Rust test (ISA programs and Linux boots included), and the machine files checked both by
# `semu validate` and by an independent JSON Schema validator.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
scripts/build-guest.sh

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace --release
echo "== semu validate machines/*.toml"
cargo run --release -q -- validate machines/*.toml
echo "== check-jsonschema machines/*.toml"
python3 -m check_jsonschema --schemafile schema/machine.schema.json --force-filetype toml machines/*.toml
echo "== check-jsonschema rejects what the schema can express of tests/broken/"
for f in harts-zero harts-too-many granule-not-power-of-two timebase-zero clock-unknown missing-kind \
    type-harts-is-string type-size-is-bool unknown-memory-field unknown-top-level-table; do
    if python3 -m check_jsonschema --schemafile schema/machine.schema.json --force-filetype toml \
        "tests/broken/$f.toml" >/dev/null 2>&1; then
        echo "check-jsonschema accepted tests/broken/$f.toml: the schema is looser than semu" >&2
        exit 1
    fi
done
echo "== all tests passed"
