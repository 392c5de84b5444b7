-- Queries on campaign node states. Every write that ends a claim checks the state it expects
-- (PENDING under a row lock, or RUNNING after a committed claim), so a state is finished at most once
-- and its next states are written at most once.

-- name: lock_due_states
-- Lock a batch of due states of one sort (Email or not) with the facts needed to execute them.
-- $1 now, $2 true for Email states, $3 campaigns to skip (blocked graphs), $4 batch size.
SELECT s.id,
       s."campaignNodeId" AS node_id,
       s."campaignId" AS campaign_id,
       s."productUserId" AS customer_id,
       s."userId" AS tenant_id,
       -- PostgreSQL accepts 'infinity' in timestamps; Python's datetime cannot hold it.
       CASE WHEN isfinite(s."timeoutAt") THEN s."timeoutAt" END AS timeout_at,
       p."deletedAt" IS NOT NULL AS customer_deleted,
       p.traits -> 'timezone' AS traits_zone,
       p.context -> 'timezone' AS context_zone
FROM campaign_node_states s
JOIN campaigns c ON c.id = s."campaignId"
JOIN campaign_nodes n ON n.id = s."campaignNodeId"
JOIN product_users p ON p.id = s."productUserId"
WHERE s.state = 'PENDING'
  AND s.attempts = 0
  AND s."runAt" <= $1::timestamptz
  AND s."deletedAt" IS NULL
  AND c.state = 'RUNNING'
  AND c."isDraft" IS NOT TRUE
  AND c."deletedAt" IS NULL
  AND n."deletedAt" IS NULL
  AND n.kind NOT IN ('Trigger', 'Audience')
  AND (n.kind = 'Email') = $2::boolean
  AND s."campaignId" <> ALL($3::uuid[])
ORDER BY s."runAt"
LIMIT $4::int
FOR UPDATE OF s SKIP LOCKED;

-- name: lock_waiting_states
-- Lock a page of filter states that wait for their condition, in id order after $3.
-- $1 now, $2 campaigns to skip, $3 last id seen, $4 page size. "timed_out" compares in SQL, where
-- an 'infinity' or '-infinity' "timeoutAt" still compares correctly.
SELECT s.id,
       s."campaignNodeId" AS node_id,
       s."campaignId" AS campaign_id,
       s."productUserId" AS customer_id,
       s."userId" AS tenant_id,
       s."timeoutAt" <= $1::timestamptz AS timed_out,
       p."deletedAt" IS NOT NULL AS customer_deleted,
       p.traits -> 'timezone' AS traits_zone,
       p.context -> 'timezone' AS context_zone
FROM campaign_node_states s
JOIN campaigns c ON c.id = s."campaignId"
JOIN campaign_nodes n ON n.id = s."campaignNodeId"
JOIN product_users p ON p.id = s."productUserId"
WHERE s.state = 'PENDING'
  AND s.attempts > 0
  AND s."deletedAt" IS NULL
  AND s.id > $3::uuid
  AND c.state = 'RUNNING'
  AND c."isDraft" IS NOT TRUE
  AND c."deletedAt" IS NULL
  AND n."deletedAt" IS NULL
  AND n.kind = 'Filter'
  AND s."campaignId" <> ALL($2::uuid[])
ORDER BY s.id
LIMIT $4::int
FOR UPDATE OF s SKIP LOCKED;

-- name: finish_states
-- Apply outcomes: $1 ids, $2 new states, $3 didTimeout, $4 attempts to add, $5 "timeoutAt" to set
-- (null keeps the old one), $6 now, $7 the states a row must be in to be changed.
-- Terminal states get "completedAt"; the ids actually changed come back.
UPDATE campaign_node_states s
SET state = v.state,
    "didTimeout" = v.did_timeout,
    attempts = s.attempts + v.attempts_added,
    "timeoutAt" = coalesce(v.timeout_at, s."timeoutAt"),
    "completedAt" = CASE WHEN v.state IN ('COMPLETED', 'ERROR', 'STOPPED') THEN $6::timestamptz ELSE s."completedAt" END,
    "updatedAt" = $6::timestamptz
FROM unnest($1::uuid[], $2::text[], $3::boolean[], $4::int[], $5::timestamptz[])
     AS v(id, state, did_timeout, attempts_added, timeout_at)
WHERE s.id = v.id
  AND s.state = ANY($7::text[])
RETURNING s.id;

-- name: insert_states
-- Write next states: $1 node ids, $2 campaign ids, $3 customer ids, $4 tenant ids, $5 names,
-- $6 "runAt", $7 "timeoutAt", $8 now.
INSERT INTO campaign_node_states
    (id, "campaignNodeId", "campaignId", "productUserId", "userId", name, state, "didTimeout",
     attempts, "runAt", "timeoutAt", "createdAt", "updatedAt")
SELECT gen_random_uuid(), v.node_id, v.campaign_id, v.customer_id, v.tenant_id, v.name, 'PENDING', false,
       0, v.run_at, v.timeout_at, $8::timestamptz, $8::timestamptz
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::timestamptz[], $7::timestamptz[])
     AS v(node_id, campaign_id, customer_id, tenant_id, name, run_at, timeout_at);

-- name: record_errors
-- Keep the reason of each ERROR state: $1 state ids, $2 reasons, $3 now.
INSERT INTO cron_state_errors (state_id, reason, created_at)
SELECT v.state_id, v.reason, $3::timestamptz
FROM unnest($1::uuid[], $2::text[]) AS v(state_id, reason)
ON CONFLICT (state_id) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at;

-- name: claim_states
-- Commit Email states as RUNNING before their sends start; "updatedAt" records the claim time.
UPDATE campaign_node_states
SET state = 'RUNNING', attempts = attempts + 1, "updatedAt" = $2::timestamptz
WHERE id = ANY($1::uuid[]) AND state = 'PENDING'
RETURNING id;

-- name: release_states
-- Give back claimed states whose send never started (clean shutdown), as if never claimed.
UPDATE campaign_node_states
SET state = 'PENDING', attempts = greatest(attempts - 1, 0), "updatedAt" = $2::timestamptz
WHERE id = ANY($1::uuid[]) AND state = 'RUNNING'
RETURNING id;

-- name: lock_expired_running_states
-- The timeout job: RUNNING states claimed longer ago than their node's "timeoutAfter" (when
-- positive) or the default limit $2 seconds. $1 now, $3 batch size.
SELECT s.id,
       s."campaignNodeId" AS node_id,
       s."campaignId" AS campaign_id,
       s."productUserId" AS customer_id,
       n.kind AS node_kind,
       CASE WHEN isfinite(s."updatedAt") THEN extract(epoch FROM $1::timestamptz - s."updatedAt") END AS ran_s,
       CASE WHEN n."timeoutAfter" > 0 THEN n."timeoutAfter" ELSE $2::int END AS limit_s
FROM campaign_node_states s
JOIN campaign_nodes n ON n.id = s."campaignNodeId"
WHERE s.state = 'RUNNING'
  AND s."deletedAt" IS NULL
  AND s."updatedAt" <= $1::timestamptz
      - make_interval(secs => CASE WHEN n."timeoutAfter" > 0 THEN n."timeoutAfter" ELSE $2::int END)
ORDER BY s."updatedAt"
LIMIT $3::int
FOR UPDATE OF s SKIP LOCKED;

-- name: count_due_states
-- The same conditions as lock_due_states, so the count holds only states a tick would execute.
-- The age is computed here, where a '-infinity' "runAt" cannot break the arithmetic.
SELECT count(*) AS due,
       coalesce(max(extract(epoch FROM $1::timestamptz - s."runAt")) FILTER (WHERE isfinite(s."runAt")), 0)
           AS oldest_age_s
FROM campaign_node_states s
JOIN campaigns c ON c.id = s."campaignId"
JOIN campaign_nodes n ON n.id = s."campaignNodeId"
WHERE s.state = 'PENDING'
  AND s.attempts = 0
  AND s."runAt" <= $1::timestamptz
  AND s."deletedAt" IS NULL
  AND c.state = 'RUNNING'
  AND c."isDraft" IS NOT TRUE
  AND c."deletedAt" IS NULL
  AND n."deletedAt" IS NULL
  AND n.kind NOT IN ('Trigger', 'Audience');
