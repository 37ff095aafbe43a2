-- The shape of the system EventSync replaces: tenants, and projects with a tenant column and a jsonb column of
-- characteristics (name, description, value, location) that AI agents search.
CREATE TABLE IF NOT EXISTS tenants (id text PRIMARY KEY, name text NOT NULL);
CREATE TABLE IF NOT EXISTS projects (
    id serial PRIMARY KEY,
    tenant_id text NOT NULL REFERENCES tenants(id),
    name text NOT NULL,
    description text,
    caracteristicas jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now());

INSERT INTO tenants VALUES ('acme', 'Acme Energy'), ('globex', 'Globex Mining') ON CONFLICT DO NOTHING;
INSERT INTO projects (tenant_id, name, description, caracteristicas) VALUES
  ('acme', 'Atacama solar farm', 'Photovoltaic plant with battery storage',
   '{"name": "Atacama I", "description": "120 MW PV with 4 h storage", "value": "USD 140M", "location": "Antofagasta, Chile"}'),
  ('acme', 'Harbour electrification', 'Shore power for container cranes',
   '{"name": "Port power", "description": "Shore power for cranes", "value": "USD 35M", "location": "Valparaiso, Chile"}'),
  ('globex', 'Tailings water recovery', 'Thickened tailings and water reuse',
   '{"name": "Water reuse", "description": "Recovering process water", "value": "USD 60M", "location": "Calama, Chile"}');
