-- w2_pixel.lua - wrk script for W2: one tracking-pixel GET per request, the
-- targets taken in turn from W2_TARGETS (lines of `sluice gen web --as pixel`,
-- TARGET TAB REFERER TAB USER-AGENT), so members and partitions vary as in
-- real traffic; prints the latency percentiles as JSON at the end.
local targets = {}
for line in io.lines(os.getenv("W2_TARGETS")) do
  targets[#targets + 1] = line:match("^[^\t]+")
end
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"
wrk.headers["Referer"] = "http://shop.example.com/product_detail/running-shoes"
local i = 0

function request()
  i = i + 1
  if i > #targets then i = 1 end
  return wrk.format("GET", targets[i])
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
