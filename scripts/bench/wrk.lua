-- wrk script for scripts/bench.sh.
--
--   wrk ... -s wrk.lua URL -- baseline
--   wrk ... -s wrk.lua URL -- similar N K
--   wrk ... -s wrk.lua URL -- search FILE K
--   wrk ... -s wrk.lua URL -- history N K H [EXTRA]
--
-- "similar" asks GET /v1/items/item-<random 0..N-1>/similar?k=K;
-- "search" POSTs /v1/search?k=K with a random line of FILE as the body
-- ({"vector": [...]}, one per line); "history" POSTs
-- /v1/recommendations with a history of H random ids among N, EXTRA
-- (say "&profile=balanced") appended to its query string.
-- done() prints one line for the script to parse:
--   BENCH <requests> <seconds> <p50 us> <p99 us> <http errors>
--         <socket errors>
-- where http errors are wrk's status >= 400 count (no 1xx/3xx here), so
-- requests - http errors are the 2xx answers.
-- No response() hook: it would make wrk keep every body and cost CPU.

local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("tid", counter)
end

local mode, n, k, h, extra
local bodies = {}
local json = { ["Content-Type"] = "application/json" }

function init(args)
    mode = args[1] or "baseline"
    math.randomseed(os.time() * 100 + tid)

    if mode == "search" then
        for line in io.lines(args[2]) do
            bodies[#bodies + 1] = line
        end
        k = args[3] or "10"
        return
    end

    n = tonumber(args[2] or "100000")
    k = args[3] or "10"
    h = tonumber(args[4] or "5")
    extra = args[5] or ""
end

function request()
    if mode == "similar" then
        return wrk.format("GET", "/v1/items/item-" .. math.random(0, n - 1)
                          .. "/similar?k=" .. k)
    end

    if mode == "search" then
        return wrk.format("POST", "/v1/search?k=" .. k, json,
                          bodies[math.random(1, #bodies)])
    end

    if mode == "history" then
        local ids = {}
        for i = 1, h do
            ids[i] = '"item-' .. math.random(0, n - 1) .. '"'
        end
        return wrk.format("POST", "/v1/recommendations?k=" .. k .. extra,
                          json,
                          '{"history":[' .. table.concat(ids, ",") .. ']}')
    end

    return wrk.format("GET", "/baseline")
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("BENCH %d %.3f %d %d %d %d\n",
        summary.requests, summary.duration / 1e6,
        latency:percentile(50), latency:percentile(99), e.status,
        e.connect + e.read + e.write + e.timeout))
end
