-- Changes for `history` (SQLite), filtered on the month of the entry's date.
-- `applied_at` is RFC 3339 text with a varying number of fractional digits,
-- so it is ordered as a time; the rowid orders changes recorded at once.
SELECT id, service, kind, applied_at, change FROM applied_changes
WHERE ($1 IS NULL OR service = $1)
  AND ($2 IS NULL OR substr(json_extract(change, '$.date'), 1, 7) >= $2)
  AND ($3 IS NULL OR substr(json_extract(change, '$.date'), 1, 7) <= $3)
ORDER BY julianday(applied_at) DESC, rowid DESC
