-- A service's time-weighted statistics per window, computed where the data
-- lives. $1 the service's series ids, $2 read start, $3 window starts and
-- $4 window ends (ascending, disjoint), $5 max_gap by series id, $6 the
-- reported thresholds.
--
-- Each sample holds from its time until the next sample of its series, or
-- for max_gap at most. The service's utilization at an instant is
-- Σ checked_out / Σ pool_size over the samples holding then. Every sample
-- changes those totals once, at its time: by its values minus its
-- predecessor's where the predecessor still held (stored with the sample, see
-- migration 0004). A predecessor that stopped holding before (a gap), and
-- each series' last sample, end with a change of their own. Summing the
-- changes in time order (a window function over the change points, not over
-- the samples) gives the service's states; their durations, grouped by
-- (window, Σ checked_out, Σ pool_size), give every statistic, the
-- percentiles by nearest rank on the seconds as in the analysis.
WITH held AS NOT MATERIALIZED (
    SELECT s.ts, greatest(s.checked_out, 0) AS c, greatest(s.pool_size, 1) AS p,
           $5[s.series] AS max_gap,
           CASE WHEN s.prev_ts >= $2 THEN s.prev_ts END AS prev_ts,
           greatest(s.prev_checked_out, 0) AS prev_c, greatest(s.prev_pool_size, 1) AS prev_p
    FROM samples s
    WHERE s.series = ANY($1) AND s.ts >= $2 AND s.ts < $4[cardinality($4)]
),
sample_changes AS (
    SELECT ts AS t,
           c - CASE WHEN prev_ts + max_gap >= ts THEN prev_c ELSE 0 END AS dc,
           p - CASE WHEN prev_ts + max_gap >= ts THEN prev_p ELSE 0 END AS dp,
           1 AS n
    FROM held
    UNION ALL
    SELECT prev_ts + max_gap, -prev_c, -prev_p, 0 FROM held WHERE prev_ts + max_gap < ts
),
changes AS (
    SELECT t, sum(dc)::int4 AS dc, sum(dp)::int4 AS dp, sum(n)::int4 AS n FROM sample_changes GROUP BY t
    UNION ALL
    SELECT l.ts + $5[l.series], -greatest(l.checked_out, 0), -greatest(l.pool_size, 1), 0
    FROM unnest($1) AS g(series) CROSS JOIN LATERAL (
        SELECT series, ts, checked_out, pool_size FROM samples
        WHERE series = g.series AND ts >= $2 AND ts < $4[cardinality($4)]
        ORDER BY ts DESC LIMIT 1) l
    UNION ALL
    -- The window edges, so that no state spans two windows.
    SELECT unnest($3 || $4), 0, 0, 0
),
steps AS (
    SELECT t, sum(dc)::int4 AS dc, sum(dp)::int4 AS dp, sum(n)::int4 AS n FROM changes GROUP BY t
),
states AS (
    SELECT t, lead(t) OVER o AS next_t, sum(dc) OVER o AS c, sum(dp) OVER o AS p, n,
           width_bucket(t, $3) AS k
    FROM steps
    WINDOW o AS (ORDER BY t ROWS UNBOUNDED PRECEDING)
),
hist AS (
    SELECT k, c, p, sum(next_t - t) AS w, sum(n) AS n FROM states
    WHERE next_t IS NOT NULL AND k >= 1 AND t < ($4)[k]
    GROUP BY k, c, p
),
ranked AS (
    SELECT k, c, p, w, n, c::float8 / p AS u,
           sum(w) OVER (PARTITION BY k ORDER BY c::float8 / p ROWS UNBOUNDED PRECEDING) AS cum,
           sum(w) OVER (PARTITION BY k) AS total
    FROM hist WHERE p > 0
),
per_window AS (
    SELECT k,
           sum(w)::int8 AS covered,
           sum(u * w) / sum(w) AS mean,
           min(u) FILTER (WHERE cum >= greatest(1, ceil(0.50::float8 * total))) AS p50,
           min(u) FILTER (WHERE cum >= greatest(1, ceil(0.95::float8 * total))) AS p95,
           min(u) FILTER (WHERE cum >= greatest(1, ceil(0.99::float8 * total))) AS p99,
           max(u) AS max,
           sum(c::float8 * w) / sum(w) AS mean_checked_out,
           sum(w) FILTER (WHERE c > $6[1] * p)::int8 AS above_1,
           sum(w) FILTER (WHERE c > $6[2] * p)::int8 AS above_2,
           sum(w) FILTER (WHERE c > $6[3] * p)::int8 AS above_3,
           sum(n)::int8 AS samples
    FROM ranked GROUP BY k
)
SELECT coalesce(covered, 0), coalesce(mean, 0), coalesce(p50, 0), coalesce(p95, 0), coalesce(p99, 0),
       coalesce(max, 0), coalesce(mean_checked_out, 0),
       coalesce(above_1, 0), coalesce(above_2, 0), coalesce(above_3, 0), coalesce(samples, 0)
FROM generate_series(1, cardinality($3)) AS w(k)
LEFT JOIN per_window USING (k)
ORDER BY w.k
