#!/bin/sh
# run.sh BUILD_DIR SECONDS [SRC_DIR]: seeds the corpora from the e2e captures
# (and ../shared/captures when present; fuzz_pcapfile's seeds are the
# capture files themselves), then runs each fuzz target for
# SECONDS. Exit status is the first failing target's. Corpora and crash
# files stay in BUILD_DIR/fuzz-work.
set -eu
build=$(cd "$1" && pwd) secs=$2 src=${3:-$(cd "$(dirname "$0")/../.." && pwd)}
work=$build/fuzz-work
mkdir -p "$work/decode" "$work/stream" "$work/pcapfile" "$work/pcaps"
mk=$(find "$build" -name mkpcap -type f | head -n 1)
for t in "$src"/tests/e2e/*/packets*.txt; do
  c=$(basename "$(dirname "$t")")
  "$mk" "$t" "$work/pcaps/$c-$(basename "$t" .txt).pcap" 2>/dev/null || true
done
pcaps=$(ls "$work"/pcaps/*.pcap "$src"/../shared/captures/*.pcap 2>/dev/null || true)
"$build/tests/fuzz/pcap2seeds" "$work/decode" "$work/stream" $pcaps
for p in $pcaps; do cp "$p" "$work/pcapfile/"; done
for t in decode stream pcapfile; do
  echo "== fuzz_$t for ${secs}s"
  (cd "$work" && "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 \
    -max_len=4096 -timeout=10 "$work/$t")
done
