#!/bin/sh
# bench/run.sh: luasniff against the libpcap read floor and a libnids C
# program, interleaved in the same run, median of N runs each.
#
#   bench/run.sh [--quick] [--runs N] [--workloads "big small mix"] [--scaling]
#
# Inputs come from ../shared/bench/gen-traffic (built here) and are cached in
# $BENCH_DIR (default /tmp/luasniff-bench). Every luasniff run is checked
# against the generator's truth file: a fast wrong run fails the benchmark.
# Needs: the build dependencies, libnids-dev, time (GNU time).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
shared=${LS_SHARED:-$top/../shared}
dir=${BENCH_DIR:-/tmp/luasniff-bench}
runs=5
quick=0
scaling=0
workloads="big small mix"
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1; runs=3 ;;
    --runs) runs=$2; shift ;;
    --workloads) workloads=$2; shift ;;
    --scaling) scaling=1 ;;
    *) echo "usage: bench/run.sh [--quick] [--runs N] [--workloads LIST] [--scaling]" >&2; exit 2 ;;
    esac
    shift
done
gen_src=$shared/bench/gen-traffic.c
if [ ! -f "$gen_src" ]; then
    echo "bench: $gen_src not found (set LS_SHARED to the shared directory)" >&2
    exit 1
fi
[ -x /usr/bin/time ] || { echo "bench: GNU time is needed (apt-get install time)" >&2; exit 1; }
mkdir -p "$dir"

echo "== building (Release) into $dir"
cmake -S "$top" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$dir/build" -j2 >/dev/null
LUASNIFF=$dir/build/luasniff
cc -O2 -std=c11 -o "$dir/gen-traffic" "$gen_src" -lm
cc -O2 -o "$dir/floor" "$here/floor.c" -lpcap
have_nids=0
if [ -f /usr/include/nids.h ]; then
    cc -O2 -o "$dir/nids_count" "$here/nids_count.c" -lnids -lpcap && have_nids=1
else
    echo "bench: libnids-dev not installed; the libnids rows are skipped" >&2
fi

# name -> generator arguments (scaled down by --quick)
gen_args() {
    case $1 in
    big) echo "--connections $((20000 / (1 + 9 * quick))) --concurrency 2000 --bytes-per-conn 50000 --size-dist lognormal --reorder 0.01 --retransmit 0.005 --seed 1" ;;
    small) echo "--connections $((200000 / (1 + 9 * quick))) --concurrency 10000 --bytes-per-conn 2048 --size-dist uniform --reorder 0.01 --retransmit 0.005 --seed 2" ;;
    mix) echo "--connections $((20000 / (1 + 9 * quick))) --concurrency 2000 --bytes-per-conn 20000 --size-dist lognormal --reorder 0.02 --loss 0.01 --retransmit 0.01 --ipv6-share 0.1 --vlan-share 0.1 --seed 3" ;;
    conc*) n=${1#conc}; c=$((n > 100000 ? n : 100000))
        echo "--connections $c --concurrency $n --bytes-per-conn 400 --size-dist fixed --seed 4" ;;
    esac
}

generate() {
    w=$1
    args=$(gen_args "$w")
    if [ ! -f "$dir/$w.pcap" ] || [ "$(cat "$dir/$w.args" 2>/dev/null)" != "$args" ]; then
        echo "== generating $w: gen-traffic $args"
        # shellcheck disable=SC2086
        "$dir/gen-traffic" -o "$dir/$w.pcap" --truth "$dir/$w.truth" $args
        echo "$args" > "$dir/$w.args"
    fi
}

results=$dir/results.tsv
: > "$results"

# run WORKLOAD PROGRAM CHECK COMMAND...: times one run, checks it, records it.
run() {
    w=$1; prog=$2; check=$3; shift 3
    /usr/bin/time -f "%e %M" -o "$dir/time.out" "$@" > "$dir/out.txt" 2> "$dir/err.txt" || {
        echo "bench: $prog on $w failed:" >&2; cat "$dir/err.txt" >&2; exit 1; }
    case $check in
    total) got=$(awk '$1 == "bytes" { print $2 }' "$dir/out.txt")
        want=$(awk -F'\t' '!/^#/ { s += $6 + $8 } END { print s }' "$dir/$w.truth")
        [ "$got" = "$want" ] || { echo "bench: $prog on $w delivered $got bytes, truth says $want" >&2; exit 1; } ;;
    perconn) awk -F'\t' 'NR == FNR { if (!/^#/) t[$2 "|" $3 "|" $4 "|" $5] = $6 "|" $8; next }
            { k = $1 "|" $2 "|" $3 "|" $4; n++; if (t[k] != $5 "|" $6) bad++ }
            END { if (bad || n != length(t)) { printf "bench: %d of %d connections differ from the truth (%d in truth)\n", bad, n, length(t) > "/dev/stderr"; exit 1 } }' \
            "$dir/$w.truth" "$dir/out.txt" || { echo "bench: $prog on $w is wrong" >&2; exit 1; } ;;
    esac
    read -r secs rss < "$dir/time.out"
    printf '%s\t%s\t%s\t%s\n' "$w" "$prog" "$secs" "$rss" >> "$results"
}

bench_workload() {
    w=$1
    generate "$w"
    f=$dir/$w.pcap
    for r in $(seq 1 "$runs"); do
        echo "   $w: round $r of $runs"
        run "$w" floor - "$dir/floor" "$f"
        [ $have_nids = 1 ] && run "$w" libnids - "$dir/nids_count" "$f"
        run "$w" "luasniff none ack" total "$LUASNIFF" -r "$f" "$here/no_handlers.lua"
        for mode in ack arrival; do
            run "$w" "luasniff chunks $mode" total "$LUASNIFF" --deliver $mode -r "$f" "$here/count_chunks.lua"
            run "$w" "luasniff perconn $mode" perconn "$LUASNIFF" --deliver $mode -r "$f" "$here/per_conn.lua"
        done
    done
}

if [ $scaling = 1 ]; then
    workloads="conc1000 conc10000 conc100000 conc1000000"
    for w in $workloads; do
        generate "$w"
        for r in $(seq 1 "$runs"); do
            run "$w" floor - "$dir/floor" "$dir/$w.pcap"
            run "$w" "luasniff none ack" total "$LUASNIFF" --max-connections 2000000 -r "$dir/$w.pcap" "$here/no_handlers.lua"
            run "$w" "luasniff chunks ack" total "$LUASNIFF" --max-connections 2000000 -r "$dir/$w.pcap" "$here/count_chunks.lua"
        done
    done
else
    for w in $workloads; do bench_workload "$w"; done
fi

echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr); runs: $runs (median)"
for w in $workloads; do
    size=$(stat -c %s "$dir/$w.pcap")
    pkts=$("$dir/floor" "$dir/$w.pcap" | sed 's/.*packets=\([0-9]*\).*/\1/')
    echo
    echo "$w: $(awk "BEGIN { printf \"%.0f MB\", $size / 1e6 }"), $pkts packets"
    awk -F'\t' -v w="$w" -v size="$size" -v pkts="$pkts" '
        $1 == w { k = $2; n[k]++; t[k, n[k]] = $3; if ($4 > m[k]) m[k] = $4; if (!(k in seen)) { seen[k] = 1; order[++o] = k } }
        function median(k,   i, j, a, tmp, c) {
            c = n[k]; for (i = 1; i <= c; i++) a[i] = t[k, i]
            for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { tmp = a[i]; a[i] = a[j]; a[j] = tmp }
            return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
        }
        END {
            floor = median("floor")
            printf "  %-24s %8s %9s %11s %9s %8s\n", "program", "wall s", "MB/s", "packets/s", "peak MB", "x floor"
            for (i = 1; i <= o; i++) {
                k = order[i]; s = median(k)
                printf "  %-24s %8.3f %9.0f %11.0f %9.1f %8.2f\n", k, s, size / 1e6 / s, pkts / s, m[k] / 1024, s / floor
            }
        }' "$results"
done
