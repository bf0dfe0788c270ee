-- Migration 20261125151014_initial_schema of database `permiso-sqlite` (sqlite): down.
-- Written by `dbgen migrate make` on 2026-11-25 15:10:14 UTC.
--
-- Undoes 20261125151014_initial_schema.up.sql; `dbgen migrate rollback permiso-sqlite` runs
-- it. Tables go in the reverse order of their creation; their indexes go with them.

DROP TABLE role_permission;
DROP TABLE user_permission;
DROP TABLE user_role;
DROP TABLE resource;
DROP TABLE user_property;
DROP TABLE "user";
DROP TABLE role_property;
DROP TABLE role;
DROP TABLE organization_property;
DROP TABLE organization;
