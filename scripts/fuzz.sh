#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (`make fuzz`). Builds the fuzz targets in Fuzz/ with
# -sanitize=fuzzer,address into .build-fuzz (never .build), then runs each for FUZZ_SECONDS.
#
#   scripts/fuzz.sh                                   all targets, 120 s each
#   FUZZ_SECONDS=600 FUZZ_TARGETS="FuzzMultipart" scripts/fuzz.sh
#   FUZZ_ARGS="-jobs=2 -workers=2" scripts/fuzz.sh    extra libFuzzer flags
#
# The corpus grows in .build-fuzz/corpus/NAME (seeded from Fuzz/seeds/NAME), crashes land in
# .build-fuzz/crashes/NAME/, full logs in .build-fuzz/logs/. Reproduce a crash with
#   .build-fuzz/debug/NAME .build-fuzz/crashes/NAME/crash-…
# The exit status is non-zero when a target crashed, leaked, ran out of memory or timed out.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
SWIFT="${SWIFT:-$(command -v swift || echo /opt/swift/usr/bin/swift)}"
SCRATCH="$ROOT/.build-fuzz"
ALL_TARGETS="FuzzAudioDecoder FuzzMultipart FuzzSpeechRequest FuzzPiperConfig"
TARGETS="${FUZZ_TARGETS:-$ALL_TARGETS}"
SECONDS_EACH="${FUZZ_SECONDS:-120}"
# A debug build keeps Swift's overflow and bounds checks; ASan adds memory errors (the decoder
# hands bytes to libsndfile). `--sanitize fuzzer` tells SwiftPM that libFuzzer supplies `main`
# (it then keeps the entry point's name); -sanitize=fuzzer,address must come as ONE swiftc flag,
# since swiftc keeps only the last -sanitize= (SwiftPM's `--sanitize fuzzer --sanitize address`
# yields an ASan build without coverage). -parse-as-library: no top-level `main` in the targets.
# lld instead of gold, which prints thousands of warnings for ASan's symbols.
BUILD_FLAGS=(--scratch-path "$SCRATCH" -c debug --sanitize fuzzer
             -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -use-ld=lld)

log() { printf 'fuzz: %s\n' "$*" >&2; }

for t in $TARGETS; do
  case " $ALL_TARGETS " in *" $t "*) ;; *) log "unknown target '$t' (choose from: $ALL_TARGETS)"; exit 2 ;; esac
done

# libFuzzer is clang's compiler-rt, shipped inside the Swift toolchain: no Debian package needed
# (Debian's libclang-rt-*-dev belongs to a different clang and cannot be mixed in).
TOOLCHAIN_BIN="$(dirname "$(readlink -f "$SWIFT")")"
RESOURCE_DIR="$("$TOOLCHAIN_BIN/clang" -print-resource-dir 2>/dev/null || true)"
ARCH="$(uname -m)"
for lib in fuzzer asan; do
  if [ ! -f "$RESOURCE_DIR/lib/linux/libclang_rt.$lib-$ARCH.a" ] && [ ! -f "$RESOURCE_DIR/lib/$ARCH-unknown-linux-gnu/libclang_rt.$lib.a" ]; then
    log "the Swift toolchain at $TOOLCHAIN_BIN lacks clang's $lib runtime (libclang_rt.$lib-$ARCH.a under '$RESOURCE_DIR/lib')."
    log "Install a swift.org toolchain for Linux (it ships compiler-rt with libFuzzer)."
    exit 1
  fi
done
[ -x "$TOOLCHAIN_BIN/ld.lld" ] || { log "the Swift toolchain at $TOOLCHAIN_BIN has no ld.lld"; exit 1; }

mkdir -p "$SCRATCH/logs"
export VOXSERVE_FUZZ=1   # Package.swift declares the fuzz targets only then.
# Leaks inside Debian's libsndfile/libvorbis that VoxServe cannot free (see the file).
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$ROOT/Fuzz/lsan.supp:print_suppressions=0}"
# Swift's own crash backtracer would run under ASan and add a confusing second report.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"

# --- build ----------------------------------------------------------------------
[ -d "$SCRATCH/debug" ] || log "the first build instruments the whole dependency tree (NIO, Hummingbird…): about 10 minutes"
for t in $TARGETS; do
  log "building $t"
  if ! "$SWIFT" build "${BUILD_FLAGS[@]}" --product "$t" >"$SCRATCH/logs/build-$t.log" 2>&1; then
    grep -E "error:" "$SCRATCH/logs/build-$t.log" | head -20 >&2 || true
    log "building $t failed; the whole log is $SCRATCH/logs/build-$t.log"
    exit 1
  fi
done
BIN="$("$SWIFT" build "${BUILD_FLAGS[@]}" --show-bin-path)"

# --- run ------------------------------------------------------------------------
failed=()
summary=()
for t in $TARGETS; do
  corpus="$SCRATCH/corpus/$t"; crashes="$SCRATCH/crashes/$t"; out="$SCRATCH/logs/$t.log"
  mkdir -p "$corpus" "$crashes"
  dict=(); [ -f "Fuzz/dicts/$t.dict" ] && dict=("-dict=Fuzz/dicts/$t.dict")
  # Audio files need room (an Ogg page is 4 KiB); text inputs stay at libFuzzer's default.
  maxlen=(); [ "$t" = FuzzAudioDecoder ] && maxlen=(-max_len=16384)
  log "running $t for ${SECONDS_EACH}s (log: $out)"
  before=$(find "$crashes" -type f | wc -l)
  # New inputs go to the first folder; the committed seeds are read from the second. libmpg123
  # (inside libsndfile) prints a line for every damaged MP3 frame: megabytes a minute, dropped.
  set +e
  # shellcheck disable=SC2086
  "$BIN/$t" "$corpus" "Fuzz/seeds/$t" "${dict[@]}" \
    -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 "${maxlen[@]}" \
    -artifact_prefix="$crashes/" ${FUZZ_ARGS:-} 2>&1 |
    grep -avE '^(Note: (Illegal Audio-MPEG-Header|Trying to resync|Hit end of|Skipped [0-9]+ bytes)|\[src/libmpg123/)' >"$out"
  rc=${PIPESTATUS[0]}
  set -e
  after=$(find "$crashes" -type f | wc -l)
  if ! grep -aq "inline 8-bit counters" "$out"; then
    log "$t was built without coverage instrumentation (see $out); rm -rf $SCRATCH and retry"
    exit 1
  fi

  units=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out" | tail -1)
  added=$(sed -n 's/^stat::new_units_added: *//p' "$out" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$out" | tail -1)
  last=$(grep -aE '^#[0-9]+.*cov: ' "$out" | tail -1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last"); ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([^ ]+).*/\1/p' <<<"$last")
  line=$(printf '%-18s %10s execs %7s/s  cov %5s  ft %6s  corpus %-12s new %5s  rss %5s MB' \
    "$t" "${units:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${added:-?}" "${rss:-?}")
  if [ "$rc" -ne 0 ] || [ "$after" -gt "$before" ]; then
    kind=$(grep -aoE '(ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): .*)|((Fatal error|Precondition failed): .*)' "$out" | head -1 | cut -c1-100 || true)
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$out" | tail -1)
    line+="  FAILED (exit $rc) ${kind:-}"
    summary+=("$line" "    reproduce: $BIN/$t ${artifact:-$crashes/<file>}   (log: $out)")
    failed+=("$t")
  else
    summary+=("$line")
  fi
done

echo
echo "libFuzzer, ${SECONDS_EACH}s per target (executions, coverage: cov = edges, ft = features):"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  log "crashes in: ${failed[*]} (inputs in $SCRATCH/crashes/; minimise with: BIN -minimize_crash=1 -max_total_time=60 -exact_artifact_path=OUT CRASH)"
  exit 1
fi
