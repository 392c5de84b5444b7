-- name: running_campaign_versions
-- Every live, RUNNING, non-draft campaign with a cheap fingerprint of its nodes and edges. Any
-- insert, update, soft delete or hard delete of a node or an edge changes the fingerprint.
SELECT c.id AS campaign_id,
       (SELECT row(count(*), max(n."updatedAt"), max(n."deletedAt"))::text
        FROM campaign_nodes n
        WHERE n."campaignId" = c.id) AS nodes_version,
       (SELECT row(count(*), max(e."updatedAt"), max(e."deletedAt"))::text
        FROM campaign_node_edges e
        JOIN campaign_nodes n ON n.id = e."fromId"
        WHERE n."campaignId" = c.id) AS edges_version
FROM campaigns c
WHERE c.state = 'RUNNING'
  AND c."isDraft" IS NOT TRUE
  AND c."deletedAt" IS NULL;

-- name: campaign_nodes
SELECT id, "campaignId", kind, name, json, "timeoutAfter", "deletedAt"
FROM campaign_nodes
WHERE "campaignId" = ANY($1::uuid[]);

-- name: campaign_edges
SELECT e.id, e."fromId", e."toId", e."edgeKind", e."createdAt", n."campaignId" AS campaign_id
FROM campaign_node_edges e
JOIN campaign_nodes n ON n.id = e."fromId"
WHERE n."campaignId" = ANY($1::uuid[])
  AND e."deletedAt" IS NULL;
