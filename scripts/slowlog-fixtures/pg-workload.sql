-- poolcap slow-log fixtures: hand-written PostgreSQL workload.
-- Run by make-fixtures.sh with `psql -X -f pg-workload.sql poolcap_fixtures`
-- while log_min_duration_statement = 0. Every statement here exists to give
-- the log one shape a parser must handle; keep TABs and non-ASCII as they are.
SELECT 'poolcap-fixtures: custom workload begins' AS marker;
CREATE TABLE "Patient2Ward" (
	"Patient2WardId" serial PRIMARY KEY,
	"Ward3Code" text NOT NULL,
	memo text
);
INSERT INTO "Patient2Ward" ("Ward3Code", memo) VALUES ('W1', 'Überweisung ✓'), ('W2', '患者の転棟 — 病棟2'), ('W3', 'plain ascii');
SELECT "Patient2WardId", memo FROM "Patient2Ward" WHERE "Ward3Code" = 'W2';
/* Überweisung geprüft ✓ — 日本語のコメント */ SELECT count(*) FROM "Patient2Ward";
-- 転棟の確認: a line comment before the statement
SELECT memo FROM "Patient2Ward" WHERE memo LIKE 'Über%';
SELECT abalance FROM pgbench_accounts WHERE aid IN (1,2);
SELECT abalance FROM pgbench_accounts WHERE aid IN (1,2,3,4,5,6,7);
SELECT abalance FROM pgbench_accounts WHERE aid IN (10, 20, 30);
SELECT a.aid, a.abalance, b.bbalance
FROM pgbench_accounts a
	JOIN pgbench_branches b ON b.bid = a.bid
WHERE a.aid IN (3,
		4,
		5)
ORDER BY a.aid;
UPDATE pgbench_accounts
	SET abalance = abalance + 0
	WHERE aid = 42;
SELECT 'first line
second line	after a TAB' AS multi_line_literal;
DO $$
BEGIN
	PERFORM pg_sleep(0.01);
END
$$;
SELECT 'duration: 1.000 ms  statement: SELECT 1' AS decoy_inside_a_literal;
PREPARE by_aid (int) AS SELECT abalance FROM pgbench_accounts WHERE aid = $1;
EXECUTE by_aid(7);
EXECUTE by_aid(8);
DEALLOCATE by_aid;
SELECT "Patient2WardId" FROM "Patient2Ward" WHERE no_such_column = 1;
SELECT 1/0 AS division_by_zero;
SELECT 'after the errors' AS marker;
CHECKPOINT;
SET log_duration = on;
SET log_min_duration_statement = -1;
SELECT 'bare duration line (log_duration = on, log_statement = none)' AS shape;
SELECT count(*) FROM pgbench_branches;
SET log_statement = 'all';
SELECT 'statement line then bare duration line (log_statement = all)' AS shape;
RESET log_statement;
RESET log_min_duration_statement;
RESET log_duration;
SELECT 'poolcap-fixtures: custom workload ends' AS marker;
