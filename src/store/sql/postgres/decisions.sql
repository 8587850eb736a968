-- Decisions for `history` (PostgreSQL). $1 service, $2 since, $3 until (each may be NULL).
SELECT service, month, to_char(decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), plan::text
FROM decisions
WHERE ($1::text IS NULL OR service = $1) AND ($2::text IS NULL OR month >= $2) AND ($3::text IS NULL OR month <= $3)
ORDER BY month DESC, service
