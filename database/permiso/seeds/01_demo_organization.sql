-- Seed 01_demo_organization of database `permiso` (postgres).
--
-- Two demo organizations, so that row-level security has tenants to keep apart: `acme`
-- (three roles, three users, four resources) and `globex` (one of each kind). 02_demo_access
-- gives them memberships and permissions.
--
-- `dbgen seed run permiso` runs every seed in the order of their file names, each in its own
-- transaction. Seeds are not recorded, so these are safe to repeat: every row has a fixed key
-- and a fixed timestamp (2025-01-01T00:00:00Z in epoch milliseconds), and ON CONFLICT DO
-- NOTHING leaves a row that is already there as it is. A second run changes nothing.

INSERT INTO organization (id, name, description, created_at, updated_at) VALUES
    ('acme',   'Acme Corporation', 'Demo tenant: a product company',  1735689600000, 1735689600000),
    ('globex', 'Globex',           'Demo tenant: a second, smaller one', 1735689600000, 1735689600000)
ON CONFLICT DO NOTHING;

INSERT INTO organization_property (parent_id, name, value, hidden, created_at) VALUES
    ('acme',   'plan',   '{"tier": "enterprise", "seats": 50}', false, 1735689600000),
    ('acme',   'region', '"eu-west-1"',                         false, 1735689600000),
    ('globex', 'plan',   '{"tier": "starter", "seats": 5}',     false, 1735689600000)
ON CONFLICT DO NOTHING;

INSERT INTO role (id, org_id, name, description, created_at, updated_at) VALUES
    ('admin',  'acme',   'Administrator', 'Everything, billing included', 1735689600000, 1735689600000),
    ('editor', 'acme',   'Editor',        'Reads and writes projects',    1735689600000, 1735689600000),
    ('viewer', 'acme',   'Viewer',        'Reads projects',               1735689600000, 1735689600000),
    ('admin',  'globex', 'Administrator', 'Everything',                   1735689600000, 1735689600000)
ON CONFLICT DO NOTHING;

INSERT INTO role_property (parent_id, org_id, name, value, hidden, created_at) VALUES
    ('admin',  'acme',   'scope',      '{"billing": true, "projects": "*"}', false, 1735689600000),
    ('editor', 'acme',   'max_drafts', '20',                                 false, 1735689600000),
    ('admin',  'globex', 'scope',      '{"billing": true, "projects": "*"}', false, 1735689600000)
ON CONFLICT DO NOTHING;

INSERT INTO "user" (id, org_id, identity_provider, identity_provider_user_id, created_at, updated_at) VALUES
    ('alice', 'acme',   'google', 'alice@acme.example',  1735689600000, 1735689600000),
    ('bob',   'acme',   'github', '1002',                1735689600000, 1735689600000),
    ('carol', 'acme',   'okta',   '00u-carol',           1735689600000, 1735689600000),
    ('dave',  'globex', 'google', 'dave@globex.example', 1735689600000, 1735689600000)
ON CONFLICT DO NOTHING;

INSERT INTO user_property (parent_id, org_id, name, value, hidden, created_at) VALUES
    ('alice', 'acme',   'department', '"engineering"',                      false, 1735689600000),
    ('alice', 'acme',   'mfa',        '{"enabled": true, "method": "totp"}', true, 1735689600000),
    ('bob',   'acme',   'department', '"content"',                          false, 1735689600000),
    ('dave',  'globex', 'department', '"sales"',                            false, 1735689600000)
ON CONFLICT DO NOTHING;

-- Resource ids are paths: a permission on /projects/apollo is found by prefix for
-- /projects/apollo/docs (the text_pattern_ops index serves `id LIKE '/projects/apollo%'`).
INSERT INTO resource (id, org_id, name, description, created_at, updated_at) VALUES
    ('/projects/apollo',      'acme',   'Apollo',        'The flagship project', 1735689600000, 1735689600000),
    ('/projects/apollo/docs', 'acme',   'Apollo docs',   'Its documentation',    1735689600000, 1735689600000),
    ('/projects/gemini',      'acme',   'Gemini',        'A side project',       1735689600000, 1735689600000),
    ('/billing/invoices',     'acme',   'Invoices',      'Billing records',      1735689600000, 1735689600000),
    ('/projects/atlas',       'globex', 'Atlas',         'Globex''s project',    1735689600000, 1735689600000)
ON CONFLICT DO NOTHING;
