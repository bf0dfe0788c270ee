-- Migration 20261125151014_row_level_security of database `permiso` (postgres): up.
-- Written by `dbgen migrate make` on 2026-11-25 15:10:14 UTC.
--
-- Row-level security: every query of the application's restricted role sees and changes
-- only the rows of the organization it names, per transaction or session, with
--     SET app.current_org_id = 'acme';      (or set_config('app.current_org_id', 'acme', true))
-- and without that setting it sees no tenant rows at all.
--
-- Two login roles, named and given passwords by placeholders (see database.toml):
--   ${rls_user}           (RLS_DB_USER, default rls_db_user): the application's role;
--                         row-level security applies to it.
--   ${unrestricted_user}  (UNRESTRICTED_DB_USER, default unrestricted_db_user): for
--                         administration and cross-organization work; it bypasses RLS.
-- The passwords (RLS_DB_USER_PASSWORD, UNRESTRICTED_DB_USER_PASSWORD) have no default and
-- never live in this repository. Each value is written between $v$ dollar quotes and quoted
-- again with format(%I / %L) before it reaches SQL, so any value works except one that
-- contains the text $v$. A password may also be given pre-hashed ('SCRAM-SHA-256$...'), which
-- keeps the clear text out of the server's statement log.
--
-- Roles belong to the whole server, not to this database. Several databases on one server
-- run this migration (permiso and permiso-test; parallel test databases), possibly at the
-- same moment. So:
--   * a role is created only when missing. Two runners in different databases both see it
--     missing; the second CREATE ROLE then waits for the first runner's transaction and fails
--     with unique_violation (or duplicate_object), which is caught: the role exists, as wanted.
--     Both runners create the roles in the same order, so they cannot deadlock.
--   * an existing role is not altered: its password stays what it was (a migration is not a
--     password rotation tool; rotate with ALTER ROLE). Changing a shared role from two
--     transactions at once would fail with "tuple concurrently updated".
--   * the grants and policies below are objects of this database only; the down script
--     takes back exactly those and leaves the roles to the other databases that use them.

DO $roles$
DECLARE
    r record;
BEGIN
    IF $v$${rls_user}$v$ = $v$${unrestricted_user}$v$ THEN
        RAISE EXCEPTION 'RLS_DB_USER and UNRESTRICTED_DB_USER name the same role %: they must differ',
            $v$${rls_user}$v$;
    END IF;
    IF $v$${rls_user}$v$ = current_user THEN
        RAISE EXCEPTION 'RLS_DB_USER % is the role running this migration, which owns the tables and so is not subject to row-level security: choose another name',
            current_user;
    END IF;

    FOR r IN
        SELECT *
        FROM (VALUES
            (1, $v$${rls_user}$v$, $v$${rls_password}$v$, false),
            (2, $v$${unrestricted_user}$v$, $v$${unrestricted_password}$v$, true)
        ) AS wanted (position, name, password, bypass_rls)
        ORDER BY position
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name) THEN
            BEGIN
                -- BYPASSRLS for the unrestricted role rather than a permissive policy per
                -- table: it covers every table, present and future, with no policy to forget,
                -- and keeps the eight policies the only ones. It needs a superuser to grant.
                EXECUTE format(
                    'CREATE ROLE %I LOGIN PASSWORD %L %s',
                    r.name, r.password,
                    CASE WHEN r.bypass_rls THEN 'BYPASSRLS' ELSE 'NOBYPASSRLS' END
                );
            EXCEPTION WHEN unique_violation OR duplicate_object THEN
                RAISE NOTICE 'role % was created meanwhile by a migration of another database; using it', r.name;
            END;
        END IF;
    END LOOP;

    -- A role that existed before must still be fit for its purpose.
    IF EXISTS (SELECT 1 FROM pg_roles
               WHERE rolname = $v$${rls_user}$v$ AND (rolsuper OR rolbypassrls)) THEN
        RAISE EXCEPTION 'role % is a superuser or has BYPASSRLS, so row-level security would not apply to it: choose another RLS_DB_USER',
            $v$${rls_user}$v$;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles
                   WHERE rolname = $v$${unrestricted_user}$v$ AND (rolsuper OR rolbypassrls)) THEN
        RAISE EXCEPTION 'role % exists without BYPASSRLS: grant it (ALTER ROLE % BYPASSRLS) or choose another UNRESTRICTED_DB_USER',
            $v$${unrestricted_user}$v$, $v$${unrestricted_user}$v$;
    END IF;
END
$roles$;

-- Grants on this database's tables. The restricted role only reads the organizations (they
-- have no org_id to isolate on: writing them would let one tenant delete another, cascading
-- through every table); it reads and writes the eight tenant tables, under RLS.
DO $grants$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY[$v$${rls_user}$v$, $v$${unrestricted_user}$v$] LOOP
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), role_name);
        EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', role_name);
        EXECUTE format(
            'GRANT SELECT, INSERT, UPDATE, DELETE ON role, role_property, "user", user_property, '
            'resource, user_role, user_permission, role_permission TO %I',
            role_name
        );
    END LOOP;
    EXECUTE format('GRANT SELECT ON organization, organization_property TO %I',
                   $v$${rls_user}$v$);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON organization, organization_property TO %I',
                   $v$${unrestricted_user}$v$);
END
$grants$;

-- The eight tenant tables. The policies apply to every role (PUBLIC); the tables' owner
-- (the role running migrations and seeds) and BYPASSRLS roles are not subject to them.
-- current_setting(..., true) is NULL when app.current_org_id is unset, and NULL matches no row.
ALTER TABLE role ENABLE ROW LEVEL SECURITY;
CREATE POLICY role_isolation ON role
    USING (org_id = current_setting('app.current_org_id', true));

ALTER TABLE role_property ENABLE ROW LEVEL SECURITY;
CREATE POLICY role_property_isolation ON role_property
    USING (org_id = current_setting('app.current_org_id', true));

ALTER TABLE "user" ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_isolation ON "user"
    USING (org_id = current_setting('app.current_org_id', true));

ALTER TABLE user_property ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_property_isolation ON user_property
    USING (org_id = current_setting('app.current_org_id', true));

ALTER TABLE resource ENABLE ROW LEVEL SECURITY;
CREATE POLICY resource_isolation ON resource
    USING (org_id = current_setting('app.current_org_id', true));

ALTER TABLE user_role ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_role_isolation ON user_role
    USING (org_id = current_setting('app.current_org_id', true));

ALTER TABLE user_permission ENABLE ROW LEVEL SECURITY;
CREATE POLICY user_permission_isolation ON user_permission
    USING (org_id = current_setting('app.current_org_id', true));

ALTER TABLE role_permission ENABLE ROW LEVEL SECURITY;
CREATE POLICY role_permission_isolation ON role_permission
    USING (org_id = current_setting('app.current_org_id', true));
