-- name: load_customers
SELECT *
FROM product_users
WHERE id = ANY($1::uuid[]);

-- name: load_templates
SELECT id, "userId", "from", "fromName", subject, "bodyHtml", "updatedAt"
FROM emails
WHERE id = ANY($1::uuid[])
  AND "deletedAt" IS NULL;

-- name: insert_sent_emails
-- One row per send handed to the provider: $1 email ids, $2 customer ids, $3 delivered,
-- $4 errors (null when delivered), $5 now. Errors are cut to the column's 255 characters.
INSERT INTO sent_emails
    (id, "emailId", "productUserId", "deliveredAt", "erroredAt", error, "deliveryStatus", "createdAt", "updatedAt")
SELECT gen_random_uuid(), v.email_id, v.customer_id,
       CASE WHEN v.delivered THEN $5::timestamptz END,
       CASE WHEN NOT v.delivered THEN $5::timestamptz END,
       left(v.error, 255),
       CASE WHEN v.delivered THEN 'delivered' ELSE 'errored' END,
       $5::timestamptz, $5::timestamptz
FROM unnest($1::uuid[], $2::uuid[], $3::boolean[], $4::text[]) AS v(email_id, customer_id, delivered, error);

-- name: add_sent_counts
-- $1 email ids in a fixed order (so concurrent ticks lock the rows in the same order), $2 counts.
UPDATE emails e
SET "sentCount" = coalesce(e."sentCount", 0) + v.sent
FROM unnest($1::uuid[], $2::int[]) AS v(id, sent)
WHERE e.id = v.id;
