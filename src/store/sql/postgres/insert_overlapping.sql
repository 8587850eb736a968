-- Inserts a file that overlaps stored samples: existing keys are kept. The
-- new rows' links are left to relink_ranges.sql (nothing to link, and no
-- window to compute, when every row was already present: a re-ingest).
INSERT INTO samples (series, ts, pool_size, checked_out, max_overflow, waiting, timeouts)
SELECT series, ts, pool_size, checked_out, max_overflow, waiting, timeouts
FROM staging ORDER BY series, ts
ON CONFLICT DO NOTHING
