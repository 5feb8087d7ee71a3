-- Per-connection state: counters kept on the connection object, one line per
-- connection at close (client, server, bytes each way) for the truth check.
sniff.on("connection", function(conn) conn.up, conn.down, conn.chunks = 0, 0, 0 end)
sniff.on("sent_data", function(conn, data)
  conn.up = conn.up + #data
  conn.chunks = conn.chunks + 1
end)
sniff.on("received_data", function(conn, data)
  conn.down = conn.down + #data
  conn.chunks = conn.chunks + 1
end)
sniff.on("closed", function(conn)
  print(conn.client_ip, conn.client_port, conn.server_ip, conn.server_port, conn.up, conn.down)
end)
