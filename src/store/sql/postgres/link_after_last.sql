-- After insert_new.sql: the stored sample after the file's last one of
-- each series now follows that one.
UPDATE samples s
SET prev_ts = l.ts, prev_checked_out = l.checked_out, prev_pool_size = l.pool_size
FROM unnest($1::int4[], $2::int8[], $3::int8[]) AS f(series, lo, hi)
JOIN samples l ON l.series = f.series AND l.ts = f.hi
CROSS JOIN LATERAL (
    SELECT ts FROM samples n
    WHERE n.series = f.series AND n.ts > f.hi ORDER BY n.ts LIMIT 1) a
WHERE s.series = f.series AND s.ts = a.ts
