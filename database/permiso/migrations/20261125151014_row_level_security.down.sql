-- Migration 20261125151014_row_level_security of database `permiso` (postgres): down.
-- Written by `dbgen migrate make` on 2026-11-25 15:10:14 UTC.
--
-- Undoes 20261125151014_row_level_security.up.sql in this database: the policies, row-level
-- security and this database's grants to the two roles.
--
-- The roles themselves are NOT dropped. They belong to the whole server and other databases
-- on it (permiso-test next to permiso, parallel test databases) may still use them: dropping
-- them would break those, and DROP ROLE fails anyway while any other database holds a grant
-- to them, which this database cannot see. Once no database uses them any more, an
-- administrator drops them (in each database `DROP OWNED BY <role>`, then `DROP ROLE <role>`).

DROP POLICY role_permission_isolation ON role_permission;
ALTER TABLE role_permission DISABLE ROW LEVEL SECURITY;

DROP POLICY user_permission_isolation ON user_permission;
ALTER TABLE user_permission DISABLE ROW LEVEL SECURITY;

DROP POLICY user_role_isolation ON user_role;
ALTER TABLE user_role DISABLE ROW LEVEL SECURITY;

DROP POLICY resource_isolation ON resource;
ALTER TABLE resource DISABLE ROW LEVEL SECURITY;

DROP POLICY user_property_isolation ON user_property;
ALTER TABLE user_property DISABLE ROW LEVEL SECURITY;

DROP POLICY user_isolation ON "user";
ALTER TABLE "user" DISABLE ROW LEVEL SECURITY;

DROP POLICY role_property_isolation ON role_property;
ALTER TABLE role_property DISABLE ROW LEVEL SECURITY;

DROP POLICY role_isolation ON role;
ALTER TABLE role DISABLE ROW LEVEL SECURITY;

-- Take back this database's grants, and only those; a role someone dropped meanwhile has
-- none left to take back.
DO $revoke$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY[$v$${rls_user}$v$, $v$${unrestricted_user}$v$] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format(
                'REVOKE ALL ON organization, organization_property, role, role_property, "user", '
                'user_property, resource, user_role, user_permission, role_permission FROM %I',
                role_name
            );
            EXECUTE format('REVOKE USAGE ON SCHEMA public FROM %I', role_name);
            EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM %I', current_database(), role_name);
        END IF;
    END LOOP;
END
$revoke$;
