for args in "--strict=1" "--help=yes" "--bogus" "--deliver" "--deliver sideways" "--checksums some" \
    "--max-connections -5" "--idle-timeout abc" "-c 0x" "-r - -"; do
  # shellcheck disable=SC2086
  "$LUASNIFF" -r packets.pcap $args </dev/null >/dev/null 2>err.txt
  echo "$args => exit $? $(cat err.txt)"
done
# A memory cap too small for Lua itself, and a compiled (binary) script:
# the error names the option, or the file.
"$LUASNIFF" --max-lua-memory 1 -r packets.pcap </dev/null >/dev/null 2>err.txt
echo "--max-lua-memory 1 => exit $? $(cat err.txt)"
"$LUASNIFF" -e 'local f = assert(io.open("compiled.luac", "wb")) f:write(string.dump(function() end)) f:close() sniff.stop()' -r packets.pcap >/dev/null 2>&1
"$LUASNIFF" -r packets.pcap compiled.luac </dev/null >/dev/null 2>err.txt
echo "compiled.luac => exit $? $(cat err.txt)"
