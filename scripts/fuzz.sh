#!/usr/bin/env bash
# Runs every Go fuzz target of the module (func FuzzXxx(f *testing.F) in a
# _test.go file) for a bounded time each, one after the other, and fails
# if any target finds a failing input. CI calls it; locally:
#
#   scripts/fuzz.sh                          # every target, 10s each
#   FUZZTIME=1m scripts/fuzz.sh ./gateway/... # longer, some packages only
#
# Environment:
#   FUZZTIME          -fuzztime per target (default 10s; "1000x" counts runs)
#   FUZZMINIMIZETIME  -fuzzminimizetime (default 10s, bounding minimization)
#   FUZZPARALLEL      -parallel, the number of fuzz workers (default: GOMAXPROCS)
#
# Arguments, if any, are package patterns restricting the run.
#
# A failing input is written to the package's testdata/fuzz/<Target>/ (by
# go test); commit it once the bug is fixed, so that plain `go test` keeps
# checking it. A run that ends with a bare "context deadline exceeded" and
# no failing input is the fuzzing coordinator's shutdown race
# (golang/go#75804, fixed in Go 1.27), not a finding: it is retried twice,
# then reported as a flake without failing the run.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-10s}"
FUZZMINIMIZETIME="${FUZZMINIMIZETIME:-10s}"
parallel=()
if [ -n "${FUZZPARALLEL:-}" ]; then
  parallel=(-parallel "$FUZZPARALLEL")
fi

# Directories of the main module's packages (patterns from the arguments).
mapfile -t dirs < <(go list -f '{{.Dir}}' "${@:-./...}")

targets=()
for dir in "${dirs[@]}"; do
  rel="./${dir#"$PWD"/}"
  [ "$dir" = "$PWD" ] && rel="."
  shopt -s nullglob
  for f in "$dir"/*_test.go; do
    while read -r name; do
      targets+=("$rel $name")
    done < <(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing\.F).*/\1/p' "$f")
  done
  shopt -u nullglob
done

if [ "${#targets[@]}" -eq 0 ]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0 failed=0 flaked=0
failures=()
for t in "${targets[@]}"; do
  pkg=${t% *} name=${t#* }
  for attempt in 1 2 3; do
    echo "fuzz: $pkg $name ($FUZZTIME, attempt $attempt)"
    status=0
    go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" \
      -fuzzminimizetime="$FUZZMINIMIZETIME" "${parallel[@]}" "$pkg" >"$log" 2>&1 || status=$?
    if [ "$status" -eq 0 ]; then
      passed=$((passed + 1))
      break
    fi
    if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written to' "$log"; then
      if [ "$attempt" -lt 3 ]; then
        continue
      fi
      echo "fuzz: $pkg $name: coordinator deadline race three times, no failing input (flake)" >&2
      flaked=$((flaked + 1))
      break
    fi
    cat "$log" >&2
    failed=$((failed + 1))
    failures+=("$pkg $name")
    break
  done
done

echo "fuzz: ${#targets[@]} targets: $passed passed, $failed failed, $flaked flaked"
if [ "$failed" -gt 0 ]; then
  printf 'fuzz: FAILED %s\n' "${failures[@]}" >&2
  exit 1
fi
