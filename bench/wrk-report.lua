-- wrk: one machine-readable line after the run (latencies in us).
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "rps=%.1f p50_us=%d p99_us=%d requests=%d non2xx=%d sockerr=%d\n",
        summary.requests / (summary.duration / 1e6),
        latency:percentile(50), latency:percentile(99),
        summary.requests, e.status,
        e.connect + e.read + e.write + e.timeout))
end
