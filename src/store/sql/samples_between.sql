-- Every stored sample with $1 ≤ ts < $2, in time order, with its service and
-- instance (both backends).
SELECT se.service, se.instance, CAST(s.series AS BIGINT), s.ts, s.pool_size, s.checked_out,
       s.max_overflow, s.waiting, s.timeouts
FROM samples s JOIN series se ON se.id = s.series
WHERE s.ts >= $1 AND s.ts < $2
ORDER BY s.ts
