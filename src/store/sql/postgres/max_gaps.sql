-- Each series' `max_gap`: 3 × the median of its first ten intervals from the
-- read start (as the in-process analysis estimates it), the fallback where a
-- series has fewer than two samples. $1 series ids, $2 read start, $3 read
-- end, $4 fallback.
SELECT f.series, coalesce((
    SELECT greatest(1, 3 * percentile_disc(0.5) WITHIN GROUP (ORDER BY d))
    FROM (SELECT ts - lag(ts) OVER (ORDER BY ts) AS d
          FROM (SELECT ts FROM samples WHERE series = f.series AND ts >= $2 AND ts < $3
                ORDER BY ts LIMIT 11) first_samples) intervals
    WHERE d IS NOT NULL), $4::int8)
FROM unnest($1::int4[]) AS f(series)
