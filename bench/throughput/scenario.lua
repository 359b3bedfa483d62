-- One bench scenario for wrk (bench/throughput/wrk.py runs it). What to send comes after
-- wrk's "--", in this order:
--   mode method path ok_status batch prefix host key quote item_part...
-- mode: none (no body), static (the quote body), issue (a policy with a unique ref),
-- batch (`batch` policies with unique refs), report (a trigger report naming the ref's
-- order; the policies it settles are counted as issued). The item parts are one policy's JSON cut
-- where its ref goes: table.concat(parts, ref) is the policy (see Target.item_parts).
-- Counters are globals: done() reads them from each thread's Lua state with thread:get(),
-- which cannot see locals.

local MODE, METHOD, PATH, OK, BATCH, PREFIX, QUOTE
local ITEM = {}
local headers = {}

local threads = {}
local counter = 0
local fixed = nil

ok_n, bad_n, issued_n, failed_n = 0, 0, 0, 0
statuses = {}
sample = ""

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  MODE, METHOD, PATH = args[1], args[2], args[3]
  OK, BATCH, PREFIX = tonumber(args[4]), tonumber(args[5]), args[6]
  headers["Host"] = args[7]
  headers["Authorization"] = "Bearer " .. args[8]
  headers["Content-Type"] = "application/json"
  QUOTE = args[9]
  for i = 10, #args do
    ITEM[#ITEM + 1] = args[i]
  end
end

-- Unique per run (PREFIX), per thread (tid) and per request (counter).
local function next_ref()
  counter = counter + 1
  return PREFIX .. "-" .. tid .. "-" .. counter
end

local function item(ref)
  return table.concat(ITEM, ref)
end

function request()
  if MODE == "none" then
    fixed = fixed or wrk.format(METHOD, PATH, headers, nil)
    return fixed
  elseif MODE == "static" then
    fixed = fixed or wrk.format(METHOD, PATH, headers, QUOTE)
    return fixed
  elseif MODE == "issue" then
    local ref = next_ref()
    headers["Idempotency-Key"] = ref
    return wrk.format(METHOD, PATH, headers, item(ref))
  elseif MODE == "report" then
    return wrk.format(METHOD, PATH, headers, item(next_ref()))
  else
    local base = next_ref()
    local parts = {}
    for i = 1, BATCH do
      parts[i] = item(base .. "-" .. i)
    end
    return wrk.format(METHOD, PATH, headers, '{"items":[' .. table.concat(parts, ",") .. ']}')
  end
end

local function count(body, name)
  -- The counts close the batch body; look at its end before scanning all of it.
  local pat = '"' .. name .. '":%s*(%d+)'
  local n = string.match(string.sub(body, -4096), pat) or string.match(body, pat)
  return tonumber(n or 0)
end

function response(status, hdrs, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == OK then
    ok_n = ok_n + 1
    if MODE == "report" then
      issued_n = issued_n + count(body, "matched")
    elseif MODE == "batch" then
      local failed = count(body, "failed")
      issued_n = issued_n + count(body, "issued")
      failed_n = failed_n + failed
      local at = failed > 0 and sample == "" and string.find(body, '"error":', 1, true)
      if at then
        sample = "batch item " .. string.sub(body, at, at + 400)
      end
    end
  else
    bad_n = bad_n + 1
    if sample == "" then
      sample = status .. " " .. string.sub(body or "", 1, 400)
    end
  end
end

local function esc(s)
  return '"' .. string.gsub(tostring(s), '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

-- One line the Python side parses: BENCH_JSON {...}
function done(summary, latency, requests)
  local ok, bad, issued, failed = 0, 0, 0, 0
  local st, samples = {}, {}
  for _, t in ipairs(threads) do
    ok = ok + t:get("ok_n")
    bad = bad + t:get("bad_n")
    issued = issued + t:get("issued_n")
    failed = failed + t:get("failed_n")
    for code, n in pairs(t:get("statuses")) do
      st[tostring(code)] = (st[tostring(code)] or 0) + n
    end
    local s = t:get("sample")
    if s ~= "" then table.insert(samples, esc(s)) end
  end
  local sts = {}
  for code, n in pairs(st) do table.insert(sts, esc(code) .. ":" .. n) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"ok":%d,"bad_status":%d,"issued":%d,"failed":%d,'
      .. '"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
      .. '"statuses":{%s},"samples":[%s]}\n',
    summary.requests, summary.duration, ok, bad, issued, failed,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max,
    table.concat(sts, ","), table.concat(samples, ",")))
end
