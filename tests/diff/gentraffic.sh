#!/bin/sh
# gentraffic.sh LUASNIFF SRCDIR WORKDIR [--deliver MODE]
# Differential test against ../shared/bench/gen-traffic: generates a capture of
# 10,000 interleaved connections (reordering, retransmissions, duplicates,
# capture loss, IPv6, VLAN) plus its truth file, runs luasniff with
# tests/diff/streams.lua, and checks every connection's byte counts, SHA-256
# (gaps skipped) and gap byte counts. Exit 77 (ctest skip) when the generator
# is not there.
set -u
bin=$1 src=$2 work=$3
shift 3
gen_c=$src/../shared/bench/gen-traffic.c
if [ ! -f "$gen_c" ]; then
  echo "SKIPPED: $gen_c not found"
  exit 77
fi
mode=${2:-ack}
mkdir -p "$work"
gen=$work/gen-traffic
if [ ! -x "$gen" ] || [ "$gen_c" -nt "$gen" ]; then
  ${CC:-cc} -O2 -std=c11 -o "$gen" "$gen_c" -lm || { echo "FAIL: cannot compile $gen_c"; exit 1; }
fi
pcap=$work/traffic.pcap truth=$work/truth.tsv
if [ ! -s "$truth" ] || [ "$gen" -nt "$truth" ]; then
  "$gen" -q -o "$pcap" --connections 10000 --concurrency 300 --bytes-per-conn 3000 \
    --reorder 0.02 --retransmit 0.01 --dup 0.01 --loss 0.002 --ipv6-share 0.1 \
    --vlan-share 0.1 --seed 7 --truth "$truth" || { echo "FAIL: gen-traffic failed"; exit 1; }
fi

out=$work/out-$mode
rm -rf "$out"; mkdir -p "$out"
"$bin" "$@" -r "$pcap" "$src/tests/diff/streams.lua" "$out" > "$work/manifest-$mode" 2> "$work/stderr-$mode"
rc=$?
if [ $rc -ne 0 ]; then
  echo "FAIL: luasniff exited $rc"; tail -5 "$work/stderr-$mode"; exit 1
fi
(cd "$out" && ls | LC_ALL=C sort | xargs sha256sum) > "$work/sha-$mode" || exit 1

# Join: sha256sum lines "HASH  ID.EXT", manifest lines, truth rows (matched
# by the 4-tuple, unique in the generated file).
awk -F'\t' -v mode="$mode" '
  FILENAME ~ /sha-/ { split($0, a, "  "); sha[a[2]] = a[1]; next }
  FILENAME ~ /manifest-/ && $1 == "conn" {
    k = $3 " " $4 " " $5 " " $6
    if (k in ours) { dupk++; next }
    ours[k] = $2; c2s[k] = $7; s2c[k] = $8; gc2s[k] = $9; gs2c[k] = $10; next }
  FILENAME ~ /truth/ && $0 !~ /^#/ {
    n++
    k = $2 " " $3 " " $4 " " $5
    if (!(k in ours)) { bad(k, "no connection for it"); next }
    id = ours[k]; m = ""
    if (c2s[k] != $6) m = m sprintf(" c2s_bytes %s/%s", $6, c2s[k])
    if (sha[id ".c2s"] != $7) m = m " c2s_sha256"
    if (s2c[k] != $8) m = m sprintf(" s2c_bytes %s/%s", $8, s2c[k])
    if (sha[id ".s2c"] != $9) m = m " s2c_sha256"
    if (gc2s[k] != $10) m = m sprintf(" c2s_gap %s/%s", $10, gc2s[k])
    if (gs2c[k] != $11) m = m sprintf(" s2c_gap %s/%s", $11, gs2c[k])
    if (m != "") bad(k, "conn " id " (close " $12 "):" m " (expected/actual)"); else ok++
  }
  function bad(k, why) { nbad++; if (nbad <= 20) print "  mismatch: " k ": " why }
  END {
    printf "gentraffic (--deliver %s): %d connections, %d matched\n", mode, n, ok
    if (dupk) printf "  %d duplicate 4-tuples in the output\n", dupk
    exit (n > 0 && ok == n && !dupk) ? 0 : 1
  }' "$work/sha-$mode" "$work/manifest-$mode" "$truth"
