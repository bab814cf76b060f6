-- autoprov schema 3: a node whose read model is at generation N re-reads
-- only the users written or deleted after N, not every user. Portable SQL
-- only, as in 0001.

-- The generation that last wrote each user (0: written before schema 3,
-- read when a node opens the store).
ALTER TABLE autoprov_users ADD COLUMN updated_generation BIGINT NOT NULL DEFAULT 0;
CREATE INDEX autoprov_users_by_updated_generation ON autoprov_users (updated_generation);

-- The generation that last deleted each username (one row per name; a
-- user created again keeps it, and its autoprov_users row says it exists).
CREATE TABLE autoprov_deleted_users (
    username TEXT PRIMARY KEY,
    generation BIGINT NOT NULL
);
CREATE INDEX autoprov_deleted_users_by_generation ON autoprov_deleted_users (generation);
