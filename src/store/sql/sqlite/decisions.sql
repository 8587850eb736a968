-- Decisions for `history` (SQLite). $1 service, $2 since, $3 until (each may be NULL).
SELECT service, month, decided_at, plan FROM decisions
WHERE ($1 IS NULL OR service = $1) AND ($2 IS NULL OR month >= $2) AND ($3 IS NULL OR month <= $3)
ORDER BY month DESC, service
