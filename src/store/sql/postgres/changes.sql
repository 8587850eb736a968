-- Changes for `history` (PostgreSQL), filtered on the month of the entry's date.
SELECT id, service, kind, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), change::text
FROM applied_changes
WHERE ($1::text IS NULL OR service = $1)
  AND ($2::text IS NULL OR left(change->>'date', 7) >= $2)
  AND ($3::text IS NULL OR left(change->>'date', 7) <= $3)
ORDER BY applied_at DESC, id DESC
