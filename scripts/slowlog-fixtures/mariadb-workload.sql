-- poolcap slow-log fixtures, MariaDB workload run by make-fixtures.sh (mariadb --comments): this line reaches the slow log as a comment-only statement
SELECT 'poolcap-fixtures: mariadb workload begins' AS marker;
CREATE TABLE `Patient2Ward` (
	`Patient2WardId` INT AUTO_INCREMENT PRIMARY KEY,
	`Ward3Code` VARCHAR(8) NOT NULL,
	memo VARCHAR(200)
) DEFAULT CHARSET = utf8mb4;
INSERT INTO `Patient2Ward` (`Ward3Code`, memo) VALUES ('W1', 'Überweisung ✓'), ('W2', '患者の転棟 — 病棟2'), ('W3', 'plain ascii');
SELECT `Patient2WardId`, memo FROM `Patient2Ward` WHERE `Ward3Code` = 'W2';
/* Überweisung geprüft ✓ — 日本語のコメント */ SELECT COUNT(*) FROM `Patient2Ward`;
SELECT memo FROM `Patient2Ward` WHERE memo LIKE 'Über%';
SELECT id, balance FROM accounts WHERE id IN (1,2);
SELECT id, balance FROM accounts WHERE id IN (1,2,3,4,5,6,7);
SELECT id, balance FROM accounts WHERE id IN (10, 20, 30);
SELECT a.id, a.balance, w.memo
FROM accounts a
	JOIN `Patient2Ward` w ON w.`Patient2WardId` = a.id
WHERE a.id IN (1,
		2,
		3)
ORDER BY a.id;
SELECT 1 AS x
# a hash comment line inside a multi-line statement
, 2 AS y;
UPDATE accounts
	SET balance = balance + 0
	WHERE id = 42;
SELECT 'first line
second line	after a TAB' AS multi_line_literal;
SELECT '# Query_time: 99.0  (decoy inside a literal)' AS decoy;
SELECT CAST('12abc' AS UNSIGNED) AS truncated_with_warning;
SELECT * FROM no_such_table;
SELECT no_such_column FROM accounts;
ANALYZE TABLE accounts;
OPTIMIZE TABLE `Patient2Ward`;
ALTER TABLE accounts ADD COLUMN note VARCHAR(20) NULL;
PREPARE by_id FROM 'SELECT balance FROM accounts WHERE id = ?';
SET @id = 7;
EXECUTE by_id USING @id;
DEALLOCATE PREPARE by_id;
use poolcap_fixtures_b;
SELECT COUNT(*) FROM audit_events;
INSERT INTO audit_events (kind, body) VALUES ('transfer', 'Überweisung ✓ 患者');
SELECT kind, COUNT(*) FROM audit_events GROUP BY kind ORDER BY kind;
use poolcap_fixtures;
SET timestamp = 1790000000;
SELECT NOW() AS pinned_now;
SET timestamp = DEFAULT;
FLUSH SLOW LOGS;
SELECT 'after FLUSH SLOW LOGS: a second header above' AS shape;
SELECT 'poolcap-fixtures: mariadb workload ends' AS marker;
