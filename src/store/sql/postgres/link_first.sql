-- After insert_new.sql: the file's first sample of each series follows the
-- stored one before it. $1 series, $2 first ts, $3 last ts (per series).
UPDATE samples s
SET prev_ts = b.ts, prev_checked_out = b.checked_out, prev_pool_size = b.pool_size
FROM unnest($1::int4[], $2::int8[], $3::int8[]) AS f(series, lo, hi)
CROSS JOIN LATERAL (
    SELECT ts, checked_out, pool_size FROM samples p
    WHERE p.series = f.series AND p.ts < f.lo ORDER BY p.ts DESC LIMIT 1) b
WHERE s.series = f.series AND s.ts = f.lo
