-- Inserts a file that overlaps nothing stored, each row linked to its
-- predecessor within the file.
INSERT INTO samples (series, ts, pool_size, checked_out, max_overflow, waiting, timeouts,
                     prev_ts, prev_checked_out, prev_pool_size)
SELECT series, ts, pool_size, checked_out, max_overflow, waiting, timeouts,
       lag(ts) OVER w, lag(checked_out) OVER w, lag(pool_size) OVER w
FROM (SELECT DISTINCT ON (series, ts) series, ts, pool_size, checked_out, max_overflow, waiting, timeouts
      FROM staging ORDER BY series, ts) d
WINDOW w AS (PARTITION BY series ORDER BY ts)
