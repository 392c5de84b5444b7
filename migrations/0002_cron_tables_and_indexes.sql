-- What this service adds of its own: a table for the reason behind each ERROR state, and the indexes
-- that keep its scans proportional to the work that is due rather than to the size of the tables.

-- campaign_node_states has no column for an error message, so the reason lives here.
CREATE TABLE IF NOT EXISTS cron_state_errors (
    state_id uuid PRIMARY KEY,
    reason text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Due states: PENDING, never attempted, ordered by "runAt".
CREATE INDEX IF NOT EXISTS cron_states_due_idx
    ON campaign_node_states ("runAt")
    WHERE state = 'PENDING' AND attempts = 0 AND "deletedAt" IS NULL;

-- Filter states waiting for their condition: PENDING after at least one attempt.
CREATE INDEX IF NOT EXISTS cron_states_waiting_idx
    ON campaign_node_states ("timeoutAt")
    WHERE state = 'PENDING' AND attempts > 0 AND "deletedAt" IS NULL;

-- Claimed states, for the timeout job; "updatedAt" is the time of the claim.
CREATE INDEX IF NOT EXISTS cron_states_running_idx
    ON campaign_node_states ("updatedAt")
    WHERE state = 'RUNNING' AND "deletedAt" IS NULL;

-- Enrollment looks up who is already on an entry node.
CREATE INDEX IF NOT EXISTS cron_states_node_customer_idx
    ON campaign_node_states ("campaignNodeId", "productUserId");

CREATE INDEX IF NOT EXISTS cron_nodes_campaign_idx ON campaign_nodes ("campaignId");
CREATE INDEX IF NOT EXISTS cron_edges_from_idx ON campaign_node_edges ("fromId");
CREATE INDEX IF NOT EXISTS cron_edges_to_idx ON campaign_node_edges ("toId");
CREATE INDEX IF NOT EXISTS cron_campaigns_running_idx ON campaigns (id) WHERE state = 'RUNNING';

-- Filters join events to customers by tenant and "personId" = "externalId".
CREATE INDEX IF NOT EXISTS cron_events_person_idx ON events ("userId", "personId", name);
CREATE INDEX IF NOT EXISTS cron_product_users_external_idx ON product_users ("userId", "externalId");
