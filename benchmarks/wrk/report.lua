-- The one line every script's run ends with, which benchmarks/service_floor.py reads:
-- JSON {"requests", "p50_us", "p99_us", "errors", "non2xx"}.
done = function(summary, latency, requests)
  io.write(string.format("JSON {\"requests\": %d, \"p50_us\": %d, \"p99_us\": %d, \"errors\": %d, \"non2xx\": %d}\n",
    summary.requests, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
