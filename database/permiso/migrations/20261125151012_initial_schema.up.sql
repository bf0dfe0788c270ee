-- Migration 20261125151012_initial_schema of database `permiso` (postgres): up.
-- Written by `dbgen migrate make` on 2026-11-25 15:10:12 UTC.
--
-- Permiso's multi-tenant RBAC schema: organizations, and per organization roles, users,
-- resources, role and user memberships and permissions. Ids are varchar(255) chosen by the
-- client; timestamps are epoch milliseconds (bigint). Every table below `organization` is
-- keyed by (id, org_id), so an id is unique per organization only, and every foreign key
-- carries org_id: a row can only ever point at rows of its own organization. Deleting an
-- organization deletes everything of it (ON DELETE CASCADE all the way down).
--
-- Properties (`*_property`) are free-form jsonb values; the GIN indexes serve containment
-- queries (value @> '{"tier": "gold"}'). `hidden` marks properties an API should not show.
--
-- `dbgen migrate latest permiso` applies it; permiso-test runs the same file.
-- Once applied anywhere, leave this file as it is (its checksum is recorded): change the
-- schema with a new migration instead.

CREATE TABLE organization (
    id          varchar(255) PRIMARY KEY,
    name        varchar(255) NOT NULL,
    description text,
    created_at  bigint       NOT NULL,
    updated_at  bigint       NOT NULL
);

CREATE TABLE organization_property (
    parent_id  varchar(255) NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    name       varchar(255) NOT NULL,
    value      jsonb        NOT NULL,
    hidden     boolean      NOT NULL DEFAULT false,
    created_at bigint       NOT NULL,
    PRIMARY KEY (parent_id, name)
);
CREATE INDEX idx_organization_property_value ON organization_property USING gin (value);

CREATE TABLE role (
    id          varchar(255) NOT NULL,
    org_id      varchar(255) NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    name        varchar(255) NOT NULL,
    description text,
    created_at  bigint       NOT NULL,
    updated_at  bigint       NOT NULL,
    PRIMARY KEY (id, org_id)
);
CREATE INDEX idx_role_org_id ON role (org_id);

CREATE TABLE role_property (
    parent_id  varchar(255) NOT NULL,
    org_id     varchar(255) NOT NULL,
    name       varchar(255) NOT NULL,
    value      jsonb        NOT NULL,
    hidden     boolean      NOT NULL DEFAULT false,
    created_at bigint       NOT NULL,
    PRIMARY KEY (parent_id, org_id, name),
    FOREIGN KEY (parent_id, org_id) REFERENCES role (id, org_id) ON DELETE CASCADE
);
CREATE INDEX idx_role_property_value ON role_property USING gin (value);

CREATE TABLE "user" (
    id                        varchar(255) NOT NULL,
    org_id                    varchar(255) NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    identity_provider         varchar(255) NOT NULL,
    identity_provider_user_id varchar(255) NOT NULL,
    created_at                bigint       NOT NULL,
    updated_at                bigint       NOT NULL,
    PRIMARY KEY (id, org_id)
);
CREATE INDEX idx_user_org_id ON "user" (org_id);
-- Log-in looks a user up by the identity provider's id for it.
CREATE INDEX idx_user_identity ON "user" (identity_provider, identity_provider_user_id);

CREATE TABLE user_property (
    parent_id  varchar(255) NOT NULL,
    org_id     varchar(255) NOT NULL,
    name       varchar(255) NOT NULL,
    value      jsonb        NOT NULL,
    hidden     boolean      NOT NULL DEFAULT false,
    created_at bigint       NOT NULL,
    PRIMARY KEY (parent_id, org_id, name),
    FOREIGN KEY (parent_id, org_id) REFERENCES "user" (id, org_id) ON DELETE CASCADE
);
CREATE INDEX idx_user_property_value ON user_property USING gin (value);

-- Resource ids are paths (/projects/apollo/docs); permissions are checked by prefix, and
-- `id LIKE '/projects/%'` can use a btree index only with text_pattern_ops (any collation).
CREATE TABLE resource (
    id          varchar(255) NOT NULL,
    org_id      varchar(255) NOT NULL REFERENCES organization (id) ON DELETE CASCADE,
    name        varchar(255),
    description text,
    created_at  bigint       NOT NULL,
    updated_at  bigint       NOT NULL,
    PRIMARY KEY (id, org_id)
);
CREATE INDEX idx_resource_org_id ON resource (org_id);
CREATE INDEX idx_resource_id_pattern ON resource (id text_pattern_ops);

CREATE TABLE user_role (
    user_id    varchar(255) NOT NULL,
    role_id    varchar(255) NOT NULL,
    org_id     varchar(255) NOT NULL,
    created_at bigint       NOT NULL,
    PRIMARY KEY (user_id, role_id, org_id),
    FOREIGN KEY (user_id, org_id) REFERENCES "user" (id, org_id) ON DELETE CASCADE,
    FOREIGN KEY (role_id, org_id) REFERENCES role (id, org_id) ON DELETE CASCADE
);
CREATE INDEX idx_user_role_role ON user_role (role_id, org_id);

CREATE TABLE user_permission (
    user_id     varchar(255) NOT NULL,
    org_id      varchar(255) NOT NULL,
    resource_id varchar(255) NOT NULL,
    action      varchar(255) NOT NULL,
    created_at  bigint       NOT NULL,
    PRIMARY KEY (user_id, org_id, resource_id, action),
    FOREIGN KEY (user_id, org_id) REFERENCES "user" (id, org_id) ON DELETE CASCADE,
    FOREIGN KEY (resource_id, org_id) REFERENCES resource (id, org_id) ON DELETE CASCADE
);
CREATE INDEX idx_user_permission_resource ON user_permission (resource_id, org_id);

-- The same shape as user_permission, and the same key: a role holds an action on a
-- resource at most once.
CREATE TABLE role_permission (
    role_id     varchar(255) NOT NULL,
    org_id      varchar(255) NOT NULL,
    resource_id varchar(255) NOT NULL,
    action      varchar(255) NOT NULL,
    created_at  bigint       NOT NULL,
    PRIMARY KEY (role_id, org_id, resource_id, action),
    FOREIGN KEY (role_id, org_id) REFERENCES role (id, org_id) ON DELETE CASCADE,
    FOREIGN KEY (resource_id, org_id) REFERENCES resource (id, org_id) ON DELETE CASCADE
);
CREATE INDEX idx_role_permission_resource ON role_permission (resource_id, org_id);
