for args in "--strict=1" "--help=yes" "--bogus" "--deliver" "--deliver sideways" \
    "--max-connections -5" "--idle-timeout abc" "-c 0x" "-r - -"; do
  # shellcheck disable=SC2086
  "$LUASNIFF" -r packets.pcap $args </dev/null >/dev/null 2>err.txt
  echo "$args => exit $? $(cat err.txt)"
done
