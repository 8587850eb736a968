\set aid random(1, 100000)
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
INSERT INTO "Patient2Ward" ("Ward3Code", memo)
	VALUES (:ward, :memo);
SELECT count(*) FROM "Patient2Ward"
	WHERE memo = :memo AND "Ward3Code" IN (:ward, 'W1', 'W2');
