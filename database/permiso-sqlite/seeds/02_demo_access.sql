-- Seed 02_demo_access of database `permiso-sqlite` (sqlite).
--
-- Who may do what in the demo organizations of 01_demo_organization: role memberships,
-- permissions through roles, and two permissions given to users directly.
--
-- `dbgen seed run permiso-sqlite` runs every seed in the order of their file names, each in
-- its own transaction. Seeds are not recorded, so this one is safe to repeat: fixed keys, fixed
-- timestamps, INSERT OR IGNORE.

INSERT OR IGNORE INTO user_role (user_id, role_id, org_id, created_at) VALUES
    ('alice', 'admin',  'acme',   1735689600000),
    ('bob',   'editor', 'acme',   1735689600000),
    ('carol', 'viewer', 'acme',   1735689600000),
    ('dave',  'admin',  'globex', 1735689600000);

INSERT OR IGNORE INTO role_permission (role_id, org_id, resource_id, action, created_at) VALUES
    ('admin',  'acme',   '/projects/apollo',      'read',   1735689600000),
    ('admin',  'acme',   '/projects/apollo',      'write',  1735689600000),
    ('admin',  'acme',   '/projects/apollo',      'delete', 1735689600000),
    ('admin',  'acme',   '/billing/invoices',     'read',   1735689600000),
    ('editor', 'acme',   '/projects/apollo',      'read',   1735689600000),
    ('editor', 'acme',   '/projects/apollo',      'write',  1735689600000),
    ('editor', 'acme',   '/projects/apollo/docs', 'read',   1735689600000),
    ('editor', 'acme',   '/projects/apollo/docs', 'write',  1735689600000),
    ('viewer', 'acme',   '/projects/apollo',      'read',   1735689600000),
    ('admin',  'globex', '/projects/atlas',       'read',   1735689600000),
    ('admin',  'globex', '/projects/atlas',       'write',  1735689600000);

INSERT OR IGNORE INTO user_permission (user_id, org_id, resource_id, action, created_at) VALUES
    ('carol', 'acme', '/projects/gemini',  'read', 1735689600000),
    ('bob',   'acme', '/billing/invoices', 'read', 1735689600000);
