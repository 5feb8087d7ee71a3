-- output.lua: a busted output handler that prints each failure with its
-- message and a closing "N passed, N failed" line (the project's test
-- summary convention), instead of busted's own summary.
return function(options)
  local busted = require "busted"
  local handler = require("busted.outputHandlers.base")()

  local function name(el) return handler.getFullName(el) end

  handler.testEnd = function(element, parent, status)
    if status ~= "success" then io.write("FAIL ", name(element), "\n") end
    return nil, true
  end

  handler.suiteEnd = function()
    for _, list in ipairs({handler.failures, handler.errors}) do
      for _, f in ipairs(list) do
        io.write("\n--- ", f.name or "?", "\n", tostring(f.message), "\n")
        if f.trace and f.trace.traceback then io.write(f.trace.traceback, "\n") end
      end
    end
    io.write(("%d passed, %d failed\n"):format(#handler.successes,
      #handler.failures + #handler.errors))
    return nil, true
  end

  busted.subscribe({"test", "end"}, handler.testEnd)
  busted.subscribe({"suite", "end"}, handler.suiteEnd)
  return handler
end
