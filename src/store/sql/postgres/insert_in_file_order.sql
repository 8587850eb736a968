-- Inserts a file that overlaps nothing stored and is in time order per series
-- (its links within the file were made while loading), in file order.
INSERT INTO samples (series, ts, pool_size, checked_out, max_overflow, waiting, timeouts,
                     prev_ts, prev_checked_out, prev_pool_size)
SELECT series, ts, pool_size, checked_out, max_overflow, waiting, timeouts,
       prev_ts, prev_checked_out, prev_pool_size
FROM staging
