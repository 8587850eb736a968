-- Each sample carries its predecessor in the same series (time, checked_out,
-- pool_size), kept up to date by ingest. The monthly aggregation can then
-- turn every sample into one change of the service's totals in a single
-- parallel scan, without a window function over millions of samples.
ALTER TABLE samples
    ADD COLUMN prev_ts BIGINT,
    ADD COLUMN prev_checked_out INTEGER,
    ADD COLUMN prev_pool_size INTEGER;

UPDATE samples s
SET prev_ts = p.prev_ts, prev_checked_out = p.prev_checked_out, prev_pool_size = p.prev_pool_size
FROM (
    SELECT series, ts,
           lag(ts) OVER w AS prev_ts,
           lag(checked_out) OVER w AS prev_checked_out,
           lag(pool_size) OVER w AS prev_pool_size
    FROM samples
    WINDOW w AS (PARTITION BY series ORDER BY ts)
) p
WHERE s.series = p.series AND s.ts = p.ts AND p.prev_ts IS NOT NULL;
