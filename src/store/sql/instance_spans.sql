-- Every instance with a stored sample at $1 ≤ ts < $2: its service, and its
-- first and last sample there (both backends).
SELECT se.service, se.instance, MIN(s.ts), MAX(s.ts)
FROM samples s JOIN series se ON se.id = s.series
WHERE s.ts >= $1 AND s.ts < $2
GROUP BY se.service, se.instance
ORDER BY se.service, se.instance
