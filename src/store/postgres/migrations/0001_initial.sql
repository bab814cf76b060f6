-- autoprov schema 1. Portable SQL only (PostgreSQL, CockroachDB,
-- YugabyteDB): plain tables, TEXT/BYTEA/BIGINT columns, no sequences,
-- triggers, stored functions or LISTEN/NOTIFY (docs/store.md).

-- One row (id = 1): the import generation (locked FOR UPDATE by every
-- apply, so imports from several nodes serialize), the next user id and
-- the history counter.
CREATE TABLE autoprov_meta (
    id INT PRIMARY KEY,
    generation BIGINT NOT NULL,
    next_id BIGINT NOT NULL,
    history_seq BIGINT NOT NULL
);
INSERT INTO autoprov_meta (id, generation, next_id, history_seq) VALUES (1, 0, 1, 0);

-- Users as the JSON the sled engine keeps (domain::User); the MAC index is
-- derived in each node's read model.
CREATE TABLE autoprov_users (
    username TEXT PRIMARY KEY,
    body TEXT NOT NULL
);

CREATE TABLE autoprov_sites (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
);

CREATE TABLE autoprov_history (
    seq BIGINT PRIMARY KEY,
    body TEXT NOT NULL
);

-- Run-time state of a phone; `version` makes update_phone_state a
-- compare-and-set.
CREATE TABLE autoprov_phone_state (
    mac BYTEA PRIMARY KEY,
    body TEXT NOT NULL,
    version BIGINT NOT NULL
);

-- Each phone's fetch history ring: FETCH_HISTORY slots per MAC.
CREATE TABLE autoprov_fetch_events (
    mac BYTEA NOT NULL,
    slot SMALLINT NOT NULL,
    seq BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (mac, slot)
);

-- DHCP leases by IPv4 address (as a number), like Kea's lease4 table.
CREATE TABLE autoprov_leases (
    ip BIGINT PRIMARY KEY,
    mac BYTEA NOT NULL,
    state TEXT NOT NULL,
    expires BIGINT NOT NULL
);

-- Small documents every node shares (admin tokens).
CREATE TABLE autoprov_shared_blobs (
    name TEXT PRIMARY KEY,
    body BYTEA NOT NULL
);

-- Who runs a scheduled job, until when.
CREATE TABLE autoprov_run_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires BIGINT NOT NULL
);
