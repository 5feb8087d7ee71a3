#!/bin/sh
# attack.sh LUASNIFF MKATTACK WORKDIR MODE N HWM_KB
# Generates a hostile capture of N packets (tests/tools/mkattack.c), runs
# luasniff on it with tight limits, and checks that it exits 0, that the
# peaks sniff.stats() reports stay within those limits, that the attack's
# own counter moved (evictions, forced-out bytes, conflicts), and that the
# process's peak resident memory stays under HWM_KB (0: not checked, as
# under sanitizers). Prints the figures either way.
set -u
bin=$1 gen=$2 work=$3 mode=$4 n=$5 hwm_max=$6
maxconn=10000 maxbuf=$((4 << 20)) maxconnbuf=$((64 << 10)) maxfrag=$((1 << 20))
rm -rf "$work"; mkdir -p "$work"
"$gen" "$mode" "$n" "$work/attack.pcap" || { echo "FAIL: mkattack"; exit 1; }
"$bin" -q -r "$work/attack.pcap" --max-connections $maxconn --max-buffer $maxbuf \
  --max-conn-buffer $maxconnbuf --max-frag-buffer $maxfrag \
  "$(dirname "$0")/attack.lua" > "$work/out" 2> "$work/err"
rc=$?
cat "$work/out"
if [ $rc -ne 0 ] || grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$work/err"; then
  echo "FAIL: exit $rc"; cat "$work/err"; exit 1
fi
awk -v mode="$mode" -v n="$n" -v maxconn=$maxconn -v maxbuf=$maxbuf -v maxfrag=$maxfrag \
    -v hwm_max="$hwm_max" '
  { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] + 0 } }
  function need(cond, what) { if (!cond) { print "FAIL: " what; bad = 1 } }
  END {
    need(v["packets"] > 0, "no packets read")
    need(v["peak_active"] <= maxconn, "peak_active " v["peak_active"] " > " maxconn)
    need(v["peak_buffered"] <= maxbuf, "peak_buffered " v["peak_buffered"] " > " maxbuf)
    need(v["frag_peak"] <= maxfrag, "frag peak " v["frag_peak"] " > " maxfrag)
    if (hwm_max > 0) need(v["hwm_kb"] <= hwm_max, "VmHWM " v["hwm_kb"] " kB > " hwm_max)
    if (mode == "synflood") need(v["evicted"] == n - maxconn, "evicted " v["evicted"])
    if (mode == "holes") need(v["forced_out"] > 0 && v["gaps"] > 0, "no bytes forced out")
    if (mode == "overlaps") need(v["conflicting"] > 0, "no conflicts counted")
    if (mode == "frags") need(v["frag_evicted"] > 0, "no fragment datagrams evicted")
    exit bad
  }' "$work/out" || exit 1
rm -f "$work/attack.pcap" # up to 170 MB; kept only when a check failed
echo "ok: $mode x $n within limits"
