sniff.on("connection", function(conn) print("connection " .. conn.id) end)
sniff.on("sent_data", function(conn, data) print("sent_data " .. #data); local t = nil; return t.boom end)
sniff.on("received_data", function(conn, data) print("received_data " .. #data) end)
