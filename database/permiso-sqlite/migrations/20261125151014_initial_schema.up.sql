-- Migration 20261125151014_initial_schema of database `permiso-sqlite` (sqlite): up.
-- Written by `dbgen migrate make` on 2026-11-25 15:10:14 UTC.
--
-- Permiso's RBAC schema (database/permiso/migrations/20261125151012_initial_schema.up.sql)
-- written for SQLite, for running with no server: the same tables, keys and cascades.
-- What differs:
--   * ids are TEXT (SQLite does not enforce varchar lengths anyway);
--   * property values are JSON in TEXT, checked with json_valid(); no GIN index (SQLite has
--     none: query them with json_extract());
--   * timestamps are BIGINT epoch milliseconds, as on Postgres;
--   * no row-level security and no roles: SQLite has neither. Isolate tenants in the
--     application (WHERE org_id = ?), or use the Postgres databases.
-- Foreign keys are enforced only on connections with PRAGMA foreign_keys = ON, which dbgen
-- (sqlx) sets; an application opening the file itself must set it too.
--
-- Once applied anywhere, leave this file as it is (its checksum is recorded): change the
-- schema with a new migration instead.

CREATE TABLE organization (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    description TEXT,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

CREATE TABLE organization_property (
    parent_id  TEXT    NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    value      TEXT    NOT NULL CHECK (json_valid(value)),
    hidden     BOOLEAN NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1)),
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (parent_id, name)
);

CREATE TABLE role (
    id          TEXT    NOT NULL,
    org_id      TEXT    NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    description TEXT,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (id, org_id)
);
CREATE INDEX idx_role_org_id ON role (org_id);

CREATE TABLE role_property (
    parent_id  TEXT    NOT NULL,
    org_id     TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    value      TEXT    NOT NULL CHECK (json_valid(value)),
    hidden     BOOLEAN NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1)),
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (parent_id, org_id, name),
    FOREIGN KEY (parent_id, org_id) REFERENCES role (id, org_id) ON DELETE CASCADE
);

CREATE TABLE "user" (
    id                        TEXT   NOT NULL,
    org_id                    TEXT   NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    identity_provider         TEXT   NOT NULL,
    identity_provider_user_id TEXT   NOT NULL,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL,
    PRIMARY KEY (id, org_id)
);
CREATE INDEX idx_user_org_id ON "user" (org_id);
CREATE INDEX idx_user_identity ON "user" (identity_provider, identity_provider_user_id);

CREATE TABLE user_property (
    parent_id  TEXT    NOT NULL,
    org_id     TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    value      TEXT    NOT NULL CHECK (json_valid(value)),
    hidden     BOOLEAN NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1)),
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (parent_id, org_id, name),
    FOREIGN KEY (parent_id, org_id) REFERENCES "user" (id, org_id) ON DELETE CASCADE
);

-- Prefix queries on resource ids (id LIKE '/projects/%') use the primary key's index when
-- LIKE is case-sensitive (PRAGMA case_sensitive_like = ON) or with id >= '/projects/' AND
-- id < '/projects0'.
CREATE TABLE resource (
    id          TEXT   NOT NULL,
    org_id      TEXT   NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    name        TEXT,
    description TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (id, org_id)
);
CREATE INDEX idx_resource_org_id ON resource (org_id);

CREATE TABLE user_role (
    user_id    TEXT   NOT NULL,
    role_id    TEXT   NOT NULL,
    org_id     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, role_id, org_id),
    FOREIGN KEY (user_id, org_id) REFERENCES "user" (id, org_id) ON DELETE CASCADE,
    FOREIGN KEY (role_id, org_id) REFERENCES role (id, org_id) ON DELETE CASCADE
);
CREATE INDEX idx_user_role_role ON user_role (role_id, org_id);

CREATE TABLE user_permission (
    user_id     TEXT   NOT NULL,
    org_id      TEXT   NOT NULL,
    resource_id TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, org_id, resource_id, action),
    FOREIGN KEY (user_id, org_id) REFERENCES "user" (id, org_id) ON DELETE CASCADE,
    FOREIGN KEY (resource_id, org_id) REFERENCES resource (id, org_id) ON DELETE CASCADE
);
CREATE INDEX idx_user_permission_resource ON user_permission (resource_id, org_id);

CREATE TABLE role_permission (
    role_id     TEXT   NOT NULL,
    org_id      TEXT   NOT NULL,
    resource_id TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (role_id, org_id, resource_id, action),
    FOREIGN KEY (role_id, org_id) REFERENCES role (id, org_id) ON DELETE CASCADE,
    FOREIGN KEY (resource_id, org_id) REFERENCES resource (id, org_id) ON DELETE CASCADE
);
CREATE INDEX idx_role_permission_resource ON role_permission (resource_id, org_id);
