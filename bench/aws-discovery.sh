#!/usr/bin/env bash
# AWS discovery benchmark (issue 14, "Measure"): our discovery of INSTANCES instances held by moto
# against a raw paginated DescribeInstances loop through the same SDK configuration, median of RUNS.
# Prints a Markdown table (examples/aws_discovery_bench.rs says what each row times).
#
# Usage: bench/aws-discovery.sh [INSTANCES=5000] [RUNS=5]
# Needs: the Python peers (scripts/lib/pypeers.sh makes .tools/venv with moto), cargo (release build).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
bash "$ROOT/scripts/lib/pypeers.sh" >&2
(cd "$ROOT" && cargo build --release -q -p hypersdk-aws --example aws_discovery_bench >&2)
"$ROOT/target/release/examples/aws_discovery_bench" "${1:-5000}" "${2:-5}"
