-- The staged rows whose (series, ts) is stored already: how many hold the
-- same values, how many others (conflicts: they are not stored). Both
-- backends (SQLite has IS NOT DISTINCT FROM since 3.39, FILTER since 3.30).
SELECT count(*) FILTER (WHERE same), count(*) FILTER (WHERE NOT same)
FROM (SELECT s.pool_size = st.pool_size AND s.checked_out = st.checked_out
             AND s.max_overflow IS NOT DISTINCT FROM st.max_overflow
             AND s.waiting IS NOT DISTINCT FROM st.waiting
             AND s.timeouts IS NOT DISTINCT FROM st.timeouts AS same
      FROM staging st JOIN samples s ON s.series = st.series AND s.ts = st.ts) compared
