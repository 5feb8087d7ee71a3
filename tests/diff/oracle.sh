#!/bin/sh
# oracle.sh LUASNIFF SRCDIR WORKDIR
# Differential test against ../shared/oracle.tsv (per-stream SHA-256 of both
# directions as tshark reassembles them, gap bytes skipped). Every stream is
# compared: those tcpflow agrees on (agree=yes) and also those where it does
# not (gaps, overlaps), where tshark's bytes are the reference. For every
# capture (whatever its link type, pcap or pcapng) in the oracle, runs
# luasniff with tests/diff/streams.lua, hashes each direction, and compares.
# Streams are matched by unordered endpoint pair, then order of appearance
# (the k-th oracle stream of a pair is our k-th connection of that pair), and
# directions by endpoint (node0 may be client or server). An oracle stream
# with no bytes either way and no connection of ours counts as matched (a
# lone SYN or RST need not make a connection). Exit 77 (ctest skip) when
# ../shared/captures is missing.
set -u
bin=$1 src=$2 work=$3
shared=$src/../shared
if [ ! -d "$shared/captures" ] || [ ! -f "$shared/oracle.tsv" ]; then
  echo "SKIPPED: ../shared/captures not found"
  exit 77
fi
rm -rf "$work"; mkdir -p "$work"
ours=$work/ours.tsv
: > "$ours"

# Every capture that has rows to check.
files=$(awk -F'\t' 'FNR > 1 { print $1 }' "$shared/oracle.tsv" | LC_ALL=C sort -u)

for f in $files; do
  d=$work/$f
  mkdir -p "$d"
  # A damaged capture makes luasniff exit 1 after processing what it could;
  # the streams before the damage are still compared.
  "$bin" -q -r "$shared/captures/$f" "$src/tests/diff/streams.lua" "$d" \
    > "$d/manifest" 2> "$d/stderr"
  echo "$?" > "$d/rc"
  if grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$d/stderr"; then
    echo "FAIL: sanitizer report for $f:"; cat "$d/stderr"; exit 1
  fi
  (cd "$d" && ls | grep -E '^[0-9]+\.(c2s|s2c)$' | LC_ALL=C sort | xargs -r sha256sum) > "$d/sha"
  # One line per connection: file id cip cport sip sport c2s_bytes c2s_sha s2c_bytes s2c_sha
  awk -F'\t' -v f="$f" -v OFS='\t' '
    FILENAME ~ /sha$/ { split($0, a, "  "); sha[a[2]] = a[1]; next }
    $1 == "conn" { print f, $2, $3, $4, $5, $6, $7, sha[$2 ".c2s"], $8, sha[$2 ".s2c"] }' \
    "$d/sha" "$d/manifest" | sort -t "$(printf '\t')" -k2,2n >> "$ours"
done

awk -F'\t' -v ours="$ours" -v flist="$files" '
  BEGIN { nf = split(flist, t, /[ \n]+/); for (i = 1; i <= nf; i++) want[t[i]] = 1 }
  function pair(a, ap, b, bp) { return (a " " ap < b " " bp) ? a " " ap " " b " " bp : b " " bp " " a " " ap }
  FILENAME == ours {  # ours, in connection id order per file
    k = $1 " " pair($3, $4, $5, $6); i = ++nours[k]
    cip[k, i] = $3; cport[k, i] = $4; cb[k, i] = $7; cs[k, i] = $8; sb[k, i] = $9; ss[k, i] = $10
    id[k, i] = $2; next }
  FNR == 1 { next }
  {  # oracle rows, in stream order per file
    k = $1 " " pair($3, $4, $5, $6); i = ++seen[k]
    if (!($1 in want)) next
    n++
    if (!((k, i) in id)) {
      if ($7 == 0 && $9 == 0) { ok++; next }
      bad($1, $2, "both", $7 "+" $9, "no connection"); next
    }
    # Our client is node0 or node1.
    if (cip[k, i] == $3 && cport[k, i] == $4) { b01 = cb[k, i]; s01 = cs[k, i]; b10 = sb[k, i]; s10 = ss[k, i] }
    else { b01 = sb[k, i]; s01 = ss[k, i]; b10 = cb[k, i]; s10 = cs[k, i] }
    m = 0
    if (b01 != $7 || s01 != $8) { bad($1, $2 " (conn " id[k, i] ")", "n0_to_n1", $7, b01); m = 1 }
    if (b10 != $9 || s10 != $10) { bad($1, $2 " (conn " id[k, i] ")", "n1_to_n0", $9, b10); m = 1 }
    if (!m) ok++
  }
  function bad(file, stream, dir, want, got) {
    nbad++
    printf "  mismatch: %s stream %s %s: expected %s bytes, got %s\n", file, stream, dir, want, got
  }
  END {
    printf "oracle: compared %d streams, matched %d\n", n, ok
    exit (n > 0 && ok == n) ? 0 : 1
  }' "$ours" "$shared/oracle.tsv"
