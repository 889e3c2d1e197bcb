#!/usr/bin/env bash
# sqlite3: 300,000 rows, an index built with sort worker threads (PRAGMA threads), aggregate, join
# and ordered queries, integrity check. Rule: query output and the database file byte-identical.
. "$(dirname "$0")/common.sh"
need sqlite3 sqlite3
cat >"$WORK/work.sql" <<'SQL'
PRAGMA threads = 2;
PRAGMA cache_size = -20000;
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, amount INTEGER, note TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)
INSERT INTO orders SELECT i, (i * 7919) % 5000, (i * 104729) % 100000, 'order-' || i || '-' || hex(i * 31) FROM n;
CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 4999)
INSERT INTO customers SELECT i, 'customer-' || i FROM n;
CREATE INDEX orders_by_customer ON orders(customer, amount);
CREATE INDEX orders_by_note ON orders(note);
SELECT count(*), sum(amount), min(note), max(note) FROM orders;
SELECT customer, count(*), sum(amount) FROM orders GROUP BY customer ORDER BY sum(amount) DESC LIMIT 5;
SELECT c.name, count(*) FROM orders o JOIN customers c ON c.id = o.customer WHERE o.amount < 100 GROUP BY c.name ORDER BY 2 DESC, 1 LIMIT 5;
SELECT note FROM orders WHERE note LIKE 'order-29999%' ORDER BY note;
SELECT amount, count(*) FROM orders GROUP BY amount % 97 ORDER BY 2 DESC, 1 LIMIT 3;
DELETE FROM orders WHERE id % 3 = 0;
VACUUM;
SELECT count(*), total(amount) FROM orders;
PRAGMA integrity_check;
SQL
run_both sh -c 'sqlite3 test.db < ../work.sql'
same_stdout
same_stderr
same_file "$WORK/plain/test.db" "$WORK/agent/test.db" "database file"
agent_ran
