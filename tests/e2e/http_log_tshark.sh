#!/bin/sh
# http_log_tshark.sh LUASNIFF SRC SHARED: runs scripts/http-log.lua over every
# capture in SHARED/captures and checks that it logs as many requests as
# `tshark -Y http.request` counts. Exit 77 (skipped) without tshark or
# without the captures.
#
# Two captures are left out, on purpose, because the tools disagree on what
# counts rather than on parsing:
#   zeek__communityid__tcp.pcap   the only request is cut by the snapshot
#       length after 30 bytes (mid request line); tshark still calls the
#       truncated packet a request, luasniff sees a gap in the head.
#   zeek__get-to-ssh-server.pcap  an HTTP GET sent to port 22: tshark does
#       not dissect HTTP on the SSH port, http-log reads any connection.
set -u
bin=$1 src=$2 shared=$3
if ! command -v tshark >/dev/null 2>&1; then
    echo "SKIP: tshark is not installed"
    exit 77
fi
if [ ! -d "$shared/captures" ]; then
    echo "SKIP: no captures in $shared/captures"
    exit 77
fi
pass=0 fail=0
for f in "$shared"/captures/*.pcap "$shared"/captures/*.pcapng; do
    name=$(basename "$f")
    case $name in
    zeek__communityid__tcp.pcap|zeek__get-to-ssh-server.pcap) continue ;;
    esac
    want=$(tshark -r "$f" -Y http.request 2>/dev/null | wc -l)
    got=$(LS_LUA_PATH="$src/lua" "$bin" -q -r "$f" "$src/scripts/http-log.lua" 2>/dev/null | wc -l)
    [ "$want" = 0 ] && [ "$got" = 0 ] && continue
    if [ "$want" = "$got" ]; then
        pass=$((pass + 1))
        echo "ok   $name: $got requests"
    else
        fail=$((fail + 1))
        echo "FAIL $name: http-log $got, tshark $want"
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
