-- Launch pages through a tenant's customers in id order; this index lets it read only that
-- tenant's rows instead of the whole product_users table.
CREATE INDEX IF NOT EXISTS cron_product_users_tenant_idx ON product_users ("userId", id);
