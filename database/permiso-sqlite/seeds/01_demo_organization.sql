-- Seed 01_demo_organization of database `permiso-sqlite` (sqlite).
--
-- The demo organizations of permiso's seeds: `acme` (three roles, three users, four
-- resources) and `globex` (one of each kind). 02_demo_access gives them memberships and
-- permissions. `hidden` is 0 or 1; property values are JSON text.
--
-- `dbgen seed run permiso-sqlite` runs every seed in the order of their file names, each in
-- its own transaction. Seeds are not recorded, so these are safe to repeat: every row has a
-- fixed key and a fixed timestamp (2025-01-01T00:00:00Z in epoch milliseconds), and INSERT
-- OR IGNORE leaves a row that is already there as it is. A second run changes nothing.

INSERT OR IGNORE INTO organization (id, name, description, created_at, updated_at) VALUES
    ('acme',   'Acme Corporation', 'Demo tenant: a product company',  1735689600000, 1735689600000),
    ('globex', 'Globex',           'Demo tenant: a second, smaller one', 1735689600000, 1735689600000);

INSERT OR IGNORE INTO organization_property (parent_id, name, value, hidden, created_at) VALUES
    ('acme',   'plan',   '{"tier": "enterprise", "seats": 50}', 0, 1735689600000),
    ('acme',   'region', '"eu-west-1"', 0, 1735689600000),
    ('globex', 'plan',   '{"tier": "starter", "seats": 5}', 0, 1735689600000);

INSERT OR IGNORE INTO role (id, org_id, name, description, created_at, updated_at) VALUES
    ('admin',  'acme',   'Administrator', 'Everything, billing included', 1735689600000, 1735689600000),
    ('editor', 'acme',   'Editor',        'Reads and writes projects',    1735689600000, 1735689600000),
    ('viewer', 'acme',   'Viewer',        'Reads projects',               1735689600000, 1735689600000),
    ('admin',  'globex', 'Administrator', 'Everything',                   1735689600000, 1735689600000);

INSERT OR IGNORE INTO role_property (parent_id, org_id, name, value, hidden, created_at) VALUES
    ('admin',  'acme',   'scope',      '{"billing": true, "projects": "*"}', 0, 1735689600000),
    ('editor', 'acme',   'max_drafts', '20', 0, 1735689600000),
    ('admin',  'globex', 'scope',      '{"billing": true, "projects": "*"}', 0, 1735689600000);

INSERT OR IGNORE INTO "user" (id, org_id, identity_provider, identity_provider_user_id, created_at, updated_at) VALUES
    ('alice', 'acme',   'google', 'alice@acme.example',  1735689600000, 1735689600000),
    ('bob',   'acme',   'github', '1002',                1735689600000, 1735689600000),
    ('carol', 'acme',   'okta',   '00u-carol',           1735689600000, 1735689600000),
    ('dave',  'globex', 'google', 'dave@globex.example', 1735689600000, 1735689600000);

INSERT OR IGNORE INTO user_property (parent_id, org_id, name, value, hidden, created_at) VALUES
    ('alice', 'acme',   'department', '"engineering"', 0, 1735689600000),
    ('alice', 'acme',   'mfa',        '{"enabled": true, "method": "totp"}', 1, 1735689600000),
    ('bob',   'acme',   'department', '"content"', 0, 1735689600000),
    ('dave',  'globex', 'department', '"sales"', 0, 1735689600000);

-- Resource ids are paths: a permission on /projects/apollo is found by prefix for
-- /projects/apollo/docs (see the comment on the resource table).
INSERT OR IGNORE INTO resource (id, org_id, name, description, created_at, updated_at) VALUES
    ('/projects/apollo',      'acme',   'Apollo',        'The flagship project', 1735689600000, 1735689600000),
    ('/projects/apollo/docs', 'acme',   'Apollo docs',   'Its documentation',    1735689600000, 1735689600000),
    ('/projects/gemini',      'acme',   'Gemini',        'A side project',       1735689600000, 1735689600000),
    ('/billing/invoices',     'acme',   'Invoices',      'Billing records',      1735689600000, 1735689600000),
    ('/projects/atlas',       'globex', 'Atlas',         'Globex''s project',    1735689600000, 1735689600000);
