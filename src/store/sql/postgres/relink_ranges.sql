-- After insert_overlapping.sql: recomputes the links of each series from
-- the stored sample before the file's first to the one after its last,
-- writing only the rows whose link changed.
UPDATE samples s
SET prev_ts = r.prev_ts, prev_checked_out = r.prev_c, prev_pool_size = r.prev_p
FROM (
    SELECT x.series, x.ts,
           lag(x.ts) OVER w AS prev_ts, lag(x.checked_out) OVER w AS prev_c, lag(x.pool_size) OVER w AS prev_p
    FROM unnest($1::int4[], $2::int8[], $3::int8[]) AS f(series, lo, hi)
    CROSS JOIN LATERAL (
        SELECT y.series, y.ts, y.checked_out, y.pool_size FROM samples y
        WHERE y.series = f.series
          AND y.ts >= coalesce((SELECT max(z.ts) FROM samples z WHERE z.series = f.series AND z.ts < f.lo), f.lo)
          AND y.ts <= coalesce((SELECT min(z.ts) FROM samples z WHERE z.series = f.series AND z.ts > f.hi), f.hi)) x
    WINDOW w AS (PARTITION BY x.series ORDER BY x.ts)
) r
WHERE s.series = r.series AND s.ts = r.ts AND r.prev_ts IS NOT NULL
  AND (s.prev_ts, s.prev_checked_out, s.prev_pool_size) IS DISTINCT FROM (r.prev_ts, r.prev_c, r.prev_p)
