-- wrk script for scripts/load.sh (CHURN=1): every request sends the next
-- logged-in session of COOKIES_FILE (one Cookie header value per line), so
-- the load spreads over many sessions (and so over the login cache's
-- bound); the answers are counted by status and printed as one STATUS line.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  cookies = {}
  for line in io.lines(os.getenv("COOKIES_FILE")) do
    if #line > 0 then table.insert(cookies, line) end
  end
  next_cookie, ok, unauthorized, other = 0, 0, 0, 0
end

function request()
  next_cookie = next_cookie % #cookies + 1
  return wrk.format("GET", nil, { ["Cookie"] = cookies[next_cookie], ["Accept"] = "application/json" })
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  elseif status == 401 then
    unauthorized = unauthorized + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local o, u, x = 0, 0, 0
  for _, thread in ipairs(threads) do
    o = o + thread:get("ok")
    u = u + thread:get("unauthorized")
    x = x + thread:get("other")
  end
  io.write(string.format("STATUS ok=%d unauthorized=%d other=%d\n", o, u, x))
end
