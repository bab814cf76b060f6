-- autoprov schema 2: every node keeps each phone's web passwords in its
-- read model, so rendering a phone's file never waits on the database
-- (docs/multi-node.md). Portable SQL only, as in 0001.

-- When a row's passwords were last written, as a count of password
-- writes: a node re-reads only the rows past the count it has seen.
-- Rows from schema 1 keep 0 (read once, when a node opens the store).
ALTER TABLE autoprov_phone_state ADD COLUMN passwords_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX autoprov_phone_state_by_passwords_seq ON autoprov_phone_state (passwords_seq);

-- The count (one row, id = 1). A password write bumps it in the same
-- transaction, holding the row's lock until it commits, so counts commit
-- in order: a node that has seen count N has seen every write up to N.
-- A row of its own, not a column of autoprov_meta, so a phone's first
-- fetch never waits behind an import holding the meta row.
CREATE TABLE autoprov_password_seq (
    id INT PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO autoprov_password_seq (id, seq) VALUES (1, 0);
