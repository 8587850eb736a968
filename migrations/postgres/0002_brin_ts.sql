-- Samples arrive in time order: a BRIN index serves time-range reads at a
-- fraction of a B-tree's size and insert cost.
DROP INDEX IF EXISTS samples_ts;
CREATE INDEX samples_ts_brin ON samples USING brin (ts);
