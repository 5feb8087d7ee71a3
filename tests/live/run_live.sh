#!/bin/sh
# run_live.sh: one live-capture test on the loopback interface.
#   sh run_live.sh LUASNIFF LSNET SRCDIR WORKDIR CASE [MKPCAP]
# CASE is one of:
#   wfile    (no capture needed) -w while reading files, -f and -c: replaying
#            the written file prints the same.
#   basic    capture lsnet's basic scenario (2 MiB up, 1 MiB down, FIN; then
#            a reset connection); the script must see exactly those bytes
#            and events; also writes -w and checks that a replay with -r
#            prints the same and sees the same bytes.
#   sigint   a connection held open; SIGINT must close it with reason "end",
#            run teardown and done, print the drop counts and exit 0.
#   quiet    on a quiet link the wall clock moves the capture clock: a held
#            connection times out (--idle-timeout 1) and sniff.after and
#            sniff.every fire with no packet at all.
#   dropuser -Z nobody: the process has no root left while capture goes on.
#   errors   a missing interface, a bad -Z user: one line, exit 1, no script.
# Exits 0 on success, 1 on failure, 77 (ctest's skip) where the machine does
# not allow capture. Every wait is bounded; the whole test ends within ~30 s.
set -u
BIN=$1 LSNET=$2 SRC=$3 WORK=$4 CASE=$5 MKPCAP=${6:-}
SCRIPT=$SRC/tests/live/streams.lua
LSPID= TOOLPID= DOGPID=

fail() {
    echo "FAIL ($CASE): $*"
    for f in "$WORK"/live.err "$WORK"/replay.err; do
        [ -f "$f" ] && { echo "--- $f"; cat "$f"; }
    done
    [ -n "$LSPID" ] && kill -9 "$LSPID" 2>/dev/null
    [ -n "$TOOLPID" ] && kill -9 "$TOOLPID" 2>/dev/null
    [ -n "$DOGPID" ] && kill "$DOGPID" 2>/dev/null
    exit 1
}

# Polls (every 50 ms, for at most $2 tenths of a second) until "$1" is true.
waitfor() {
    n=0
    while ! eval "$1"; do
        n=$((n + 1))
        [ "$n" -gt $(($2 * 2)) ] && return 1
        sleep 0.05
    done
    return 0
}

rm -rf "$WORK" && mkdir -p "$WORK/out" || exit 1

if [ "$CASE" = wfile ]; then
    cp "$SRC/tests/e2e/events.lua" "$WORK/" && cd "$WORK" || exit 1
    "$MKPCAP" "$SRC/tests/e2e/multi_file/packets.txt" a.pcap &&
        "$MKPCAP" "$SRC/tests/e2e/multi_file/packets2.txt" b.pcap || fail "mkpcap"
    for c in "" "-c 5"; do
        # shellcheck disable=SC2086
        "$BIN" -r a.pcap -r b.pcap -f "tcp port 80" $c -w copy.pcap events.lua >first.out \
            2>first.err || fail "run with -w $c: $(cat first.err)"
        "$BIN" -r copy.pcap events.lua >replay.out 2>replay.err || fail "replay $c"
        diff -u first.out replay.out || fail "replay of -w $c differs"
        [ -s first.out ] || fail "no output"
    done
    "$BIN" -r a.pcap -w "$WORK/no/such/dir/x.pcap" -e '' >/dev/null 2>w.err
    rc=$?
    [ "$rc" = 1 ] || fail "unwritable -w: exit $rc"
    grep -q "^luasniff: error: -w $WORK/no/such/dir/x.pcap: " w.err || fail "message: $(cat w.err)"
    echo "ok ($CASE)"
    exit 0
fi

# Can this machine capture at all? sniff.stop() while loading ends the run
# at the first tick.
if ! "$BIN" -q -i lo -f "tcp port 9" -e 'sniff.stop()' >"$WORK/probe.out" 2>"$WORK/probe.err"; then
    if grep -qi "permission\|not permitted" "$WORK/probe.err"; then
        echo "SKIP: capturing on lo is not allowed here (needs root or CAP_NET_RAW):"
        cat "$WORK/probe.err"
        exit 77
    fi
    cat "$WORK/probe.err"
    fail "luasniff cannot capture on lo"
fi

# Starts lsnet with scenario $1, then luasniff on lo filtered on its port
# with extra options "$2" (-B: the 2 MiB default ring cannot hold a burst of
# 64 KiB loopback segments while Lua writes files); returns once luasniff
# captures. A watchdog interrupts luasniff after 28 s whatever happens.
start() {
    "$LSNET" "$1" "$WORK" >"$WORK/lsnet.err" 2>&1 &
    TOOLPID=$!
    waitfor '[ -s "$WORK/port" ]' 100 || fail "lsnet did not start"
    PORT=$(cat "$WORK/port")
    # shellcheck disable=SC2086
    "$BIN" -v -i lo -B 65536 -f "tcp port $PORT" $2 "$SCRIPT" "$WORK/out" "$PORT" \
        >"$WORK/live.out" 2>"$WORK/live.err" &
    LSPID=$!
    # Short sleeps: a killed watchdog leaves nothing behind for long.
    (n=0; while [ $n -lt 280 ]; do sleep 0.1; n=$((n + 1)); done; kill -INT "$LSPID") \
        >/dev/null 2>&1 &
    DOGPID=$!
    waitfor 'grep -q "capturing on lo" "$WORK/live.err" || ! kill -0 $LSPID 2>/dev/null' 100 ||
        fail "luasniff did not start capturing"
    kill -0 "$LSPID" 2>/dev/null || fail "luasniff ended early"
}

# Sends SIGINT to luasniff and checks it exits 0.
stop() {
    kill "$DOGPID" 2>/dev/null
    DOGPID=
    kill -INT "$LSPID"
    wait "$LSPID"
    rc=$?
    LSPID=
    [ "$rc" = 0 ] || fail "luasniff exited $rc after SIGINT"
}

# The bytes the script wrote under $1 are those lsnet sent, for ids $2...
same_bytes() {
    d=$1
    shift
    for id in "$@"; do
        for dir in sent received; do
            cmp "$WORK/exp/$id.$dir" "$d/$id.$dir" || fail "connection $id $dir bytes differ ($d)"
        done
    done
}

case $CASE in
basic)
    start basic "-w $WORK/live.pcap"
    touch "$WORK/go"
    wait "$TOOLPID" || fail "lsnet failed: $(cat "$WORK/lsnet.err")"
    TOOLPID=
    # The reset connection closes after its one-second grace period.
    waitfor 'grep -q "^teardown	2" "$WORK/live.out"' 50 || true
    stop
    diff -u "$WORK/expected.out" "$WORK/live.out" || fail "script output differs"
    same_bytes "$WORK/out" 1 2
    grep -q "^drops 0$" "$WORK/out/stats" || fail "packets dropped: $(cat "$WORK/out/stats")"
    grep -q "^lo [1-9]" "$WORK/out/stats" || fail "no per-interface stats: $(cat "$WORK/out/stats")"
    grep -q "lo: [0-9]* packets received by filter, 0 dropped by kernel" "$WORK/live.err" ||
        fail "no drop counts on stderr"
    # The replay of what -w wrote gives the same output and bytes.
    mkdir -p "$WORK/out2"
    "$BIN" -r "$WORK/live.pcap" "$SCRIPT" "$WORK/out2" "$PORT" >"$WORK/replay.out" \
        2>"$WORK/replay.err" || fail "replay failed"
    diff -u "$WORK/live.out" "$WORK/replay.out" || fail "replay output differs"
    same_bytes "$WORK/out2" 1 2
    ;;
sigint)
    start hold ""
    touch "$WORK/go"
    waitfor '[ -f "$WORK/exchanged" ]' 100 || fail "lsnet did not exchange"
    # Let the last ACKs reach luasniff; the connection stays open.
    sleep 0.3
    grep -q "^closed" "$WORK/live.out" && fail "closed before SIGINT"
    stop
    touch "$WORK/stop"
    wait "$TOOLPID" || fail "lsnet failed: $(cat "$WORK/lsnet.err")"
    TOOLPID=
    diff -u "$WORK/expected.out" "$WORK/live.out" || fail "script output differs"
    same_bytes "$WORK/out" 1
    grep -q "caught SIGINT" "$WORK/live.err" || fail "SIGINT not reported"
    grep -q "lo: [0-9]* packets received by filter" "$WORK/live.err" ||
        fail "no drop counts on stderr"
    ;;
quiet)
    start hold "--idle-timeout 1"
    touch "$WORK/go"
    waitfor '[ -f "$WORK/exchanged" ]' 100 || fail "lsnet did not exchange"
    waitfor 'grep -q "^teardown	1" "$WORK/live.out"' 50 || fail "no idle timeout on a quiet link"
    stop
    touch "$WORK/stop"
    wait "$TOOLPID" || fail "lsnet failed: $(cat "$WORK/lsnet.err")"
    TOOLPID=
    sed 's/	end	/	timeout	/' "$WORK/expected.out" >"$WORK/expected.quiet"
    diff -u "$WORK/expected.quiet" "$WORK/live.out" || fail "script output differs"
    same_bytes "$WORK/out" 1
    # Timers with no packet: port 9 on lo carries nothing here.
    "$BIN" -i lo -f "tcp port 9 and tcp port 7" -e '
        local n = 0
        sniff.after(0.3, function() print("after") end)
        sniff.every(0.2, function() n = n + 1; if n == 3 then print("every"); sniff.stop() end end)
        sniff.on("done", function() print("done") end)' >"$WORK/timers.out" 2>"$WORK/timers.err" &
    LSPID=$!
    waitfor '! kill -0 $LSPID 2>/dev/null' 50 || fail "timers did not stop the run"
    wait "$LSPID" || fail "timers run failed: $(cat "$WORK/timers.err")"
    LSPID=
    printf 'after\nevery\ndone\n' | diff -u - "$WORK/timers.out" || fail "timers output"
    ;;
dropuser)
    id nobody >/dev/null 2>&1 || { echo "SKIP: no user nobody"; exit 77; }
    uid=$(id -u nobody)
    # The script runs as nobody: its output directory must be writable.
    chmod 777 "$WORK/out"
    start basic "-Z nobody"
    ids=$(grep '^Uid:' "/proc/$LSPID/status" | tr -s ' \t' ' ')
    [ "$ids" = "Uid: $uid $uid $uid $uid" ] || fail "still privileged: $ids"
    grep -q '^CapEff:[[:space:]]*0*$' "/proc/$LSPID/status" || fail "capabilities left: \
$(grep Cap "/proc/$LSPID/status")"
    touch "$WORK/go"
    wait "$TOOLPID" || fail "lsnet failed: $(cat "$WORK/lsnet.err")"
    TOOLPID=
    waitfor 'grep -q "^teardown	2" "$WORK/live.out"' 50 || true
    stop
    diff -u "$WORK/expected.out" "$WORK/live.out" || fail "script output differs"
    same_bytes "$WORK/out" 1 2
    ;;
errors)
    "$BIN" -i ls-no-such0 -e 'print("script ran")' >"$WORK/e1.out" 2>"$WORK/e1.err"
    rc=$?
    [ "$rc" = 1 ] || fail "missing interface: exit $rc"
    [ "$(wc -l <"$WORK/e1.err")" = 1 ] ||
        fail "missing interface: not one line: $(cat "$WORK/e1.err")"
    grep -q "ls-no-such0: no such interface" "$WORK/e1.err" || fail "message: $(cat "$WORK/e1.err")"
    [ -s "$WORK/e1.out" ] && fail "script ran"
    "$BIN" -i lo -Z ls-no-such-user -e 'print("script ran")' >"$WORK/e2.out" 2>"$WORK/e2.err"
    rc=$?
    [ "$rc" = 1 ] || fail "bad -Z user: exit $rc"
    grep -q "ls-no-such-user: no such user" "$WORK/e2.err" || fail "message: $(cat "$WORK/e2.err")"
    [ -s "$WORK/e2.out" ] && fail "script ran as root after a failed -Z"
    "$BIN" -i any -f "ether host 1:2:3:4:5:6" -e '' >/dev/null 2>"$WORK/e3.err"
    rc=$?
    [ "$rc" = 2 ] || fail "filter for the wrong link type: exit $rc ($(cat "$WORK/e3.err"))"
    grep -q "any: filter 'ether host" "$WORK/e3.err" || fail "message: $(cat "$WORK/e3.err")"
    ;;
*)
    echo "run_live.sh: unknown case $CASE"
    exit 2
    ;;
esac
echo "ok ($CASE)"
exit 0
