#!/usr/bin/env bash
# Fuzzing the parsers that take untrusted bytes, with libFuzzer and AddressSanitizer (both ship with Swift):
#   translator  packets from either side of the gateway, with any offload metadata (Fuzz/TranslatorFuzz)
#   dns64       client queries and upstream answers through intake and the synthesis state machine (Fuzz/DNS64Fuzz)
#   config      the configuration reader (Fuzz/ConfigFuzz)
#
#   bash scripts/fuzz.sh                      # every target, 60 s each
#   bash scripts/fuzz.sh dns64 -t 600         # one target, 10 minutes
#   bash scripts/fuzz.sh config -n 10000000 -t 3600   # stop after 10 million inputs (or the time limit)
#   bash scripts/fuzz.sh --replay             # no fuzzing: run the seeds and Fuzz/Regressions through the plain
#                                             # (debug) builds of the targets; what scripts/test.sh runs
#
# Seeds come from Fuzz/seeds.py; the corpus grows in FUZZ_CORPUS (default: a temporary directory, dropped at
# the end). A crash leaves its input in FUZZ_OUT (default /tmp/nat64d-fuzz) and the script exits 1; once fixed,
# copy the input to Fuzz/Regressions/TARGET/ so --replay keeps checking it. The sanitized build lives in
# .build/fuzz, apart from the normal builds. Prints `N passed, N failed` (one per target or replayed file) last.
# The translator target reuses its translators (reset between inputs, so a find still replays alone) and runs
# ~15 000 inputs/s on a quiet machine; figures of the long runs are in docs/robustness.md.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$SCRIPT_DIR/.."
if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then
    PATH=/opt/swift/usr/bin:$PATH
fi

ALL_TARGETS=(translator dns64 config)
targets=()
seconds=60
runs=-1
replay=0
while (($#)); do
    case $1 in
    -t)
        seconds=${2:?-t needs a number of seconds}
        shift 2
        ;;
    -n)
        runs=${2:?-n needs a number of inputs}
        shift 2
        ;;
    --replay)
        replay=1
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | grep '^#'
        exit 0
        ;;
    translator | dns64 | config)
        targets+=("$1")
        shift
        ;;
    *)
        echo "fuzz.sh: unknown argument '$1' (targets: ${ALL_TARGETS[*]}; -t SECONDS; -n RUNS; --replay)" >&2
        exit 2
        ;;
    esac
done
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")

work=$(mktemp -d "${TMPDIR:-/tmp}/nat64d-fuzz-work.XXXXXX")
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 Fuzz/seeds.py "$work/seeds"
passed=0
failed=0

if ((replay)); then
    swift build --product fuzz-translator >&2
    swift build --product fuzz-dns64 >&2
    swift build --product fuzz-config >&2
    bin=$(swift build --show-bin-path)
    for target in "${targets[@]}"; do
        for input in "$work/seeds/$target"/* Fuzz/Regressions/"$target"/*; do
            [[ -f $input ]] || continue
            if out=$(SWIFT_BACKTRACE=enable=no timeout 60 "$bin/fuzz-$target" "$input" 2>&1); then
                passed=$((passed + 1))
                printf 'PASS fuzz-replay %s %s\n' "$target" "${input#"$work"/}"
            else
                failed=$((failed + 1))
                printf 'FAIL fuzz-replay %s %s: %s\n' "$target" "${input#"$work"/}" "$(tail -n 3 <<<"$out" | tr '\n' ' ')"
            fi
        done
    done
    printf '%s passed, %s failed\n' "$passed" "$failed"
    ((failed == 0))
    exit
fi

out_dir=${FUZZ_OUT:-/tmp/nat64d-fuzz}
mkdir -p "$out_dir"
for target in "${targets[@]}"; do
    echo "=== fuzz-$target: building with libFuzzer + ASan" >&2
    swift build -c release --scratch-path .build/fuzz --product "fuzz-$target" --sanitize fuzzer \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING >&2
    corpus=${FUZZ_CORPUS:-$work/corpus}/$target
    mkdir -p "$corpus"
    cp -n "$work/seeds/$target"/* "$corpus"/ 2>/dev/null || true
    if compgen -G "Fuzz/Regressions/$target/*" >/dev/null; then cp -n Fuzz/Regressions/"$target"/* "$corpus"/; fi
    echo "=== fuzz-$target: $seconds s on $corpus" >&2
    log=$out_dir/fuzz-$target.log
    # SWIFT_BACKTRACE=enable=no: a crash would otherwise hang in Swift's backtracer (docs/platform-notes.md).
    if SWIFT_BACKTRACE=enable=no timeout -k 10 $((seconds + 60)) .build/fuzz/release/fuzz-"$target" \
        -max_total_time="$seconds" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="$out_dir/$target-" "$corpus" >"$log" 2>&1; then
        passed=$((passed + 1))
        printf 'PASS fuzz %s: %s\n' "$target" "$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse)' "$log" | tail -1)"
    else
        failed=$((failed + 1))
        printf 'FAIL fuzz %s: see %s; input: %s\n' "$target" "$log" \
            "$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -1)"
        grep -E 'ERROR|SUMMARY|Fatal error|Precondition failed' "$log" | head -5
    fi
done
printf '%s passed, %s failed\n' "$passed" "$failed"
((failed == 0))
