-- The mergeable form of each stored slow-log digest (issue 18): every count,
-- sum, histogram bucket and second in flight, so that months merge into a
-- quarter exactly (docs/slowlogs.md). NULL for digests stored before it.
ALTER TABLE slowlog_digests ADD COLUMN mergeable TEXT;
