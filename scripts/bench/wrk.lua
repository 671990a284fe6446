-- wrk script for scripts/bench.sh.
--
--   wrk ... -s wrk.lua URL -- baseline
--   wrk ... -s wrk.lua URL -- similar N K
--
-- "similar" asks GET /v1/items/item-<random 0..N-1>/similar?k=K.
-- done() prints one line for the script to parse:
--   BENCH <requests> <req/s> <p50 us> <p99 us> <http errors> <socket errors>
-- where http errors are wrk's status >= 400 count (no 1xx/3xx here).
-- No response() hook: it would make wrk keep every body and cost CPU.

local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("tid", counter)
end

local mode, n, k

function init(args)
    mode = args[1] or "baseline"
    n = tonumber(args[2] or "100000")
    k = args[3] or "10"
    math.randomseed(os.time() * 100 + tid)
end

function request()
    if mode == "similar" then
        return wrk.format("GET", "/v1/items/item-" .. math.random(0, n - 1)
                          .. "/similar?k=" .. k)
    end
    return wrk.format("GET", "/baseline")
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("BENCH %d %.1f %d %d %d %d\n",
        summary.requests, summary.requests / (summary.duration / 1e6),
        latency:percentile(50), latency:percentile(99), e.status,
        e.connect + e.read + e.write + e.timeout))
end
