-- The tables the Sequence API owns, created only where they are missing, so that this service can run
-- on an empty database (development, tests, the demo). On a database that the API created, every
-- statement here finds its object in place and changes nothing. Column names and types follow the
-- API's Sequelize models; ids default to gen_random_uuid(), which needs no extension.

CREATE TABLE IF NOT EXISTS users (
    id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    "firstName" varchar(255),
    "lastName" varchar(255),
    email varchar(255) NOT NULL UNIQUE,
    photo varchar(255),
    password varchar(255),
    "onboardedAt" timestamptz,
    "createdAt" timestamptz NOT NULL DEFAULT now(),
    "updatedAt" timestamptz NOT NULL DEFAULT now(),
    "deletedAt" timestamptz,
    PRIMARY KEY (id, email)
);

CREATE TABLE IF NOT EXISTS product_users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    "userId" uuid NOT NULL REFERENCES users (id),
    "externalId" varchar(255),
    "intercomId" varchar(255),
    email varchar(255),
    "firstName" varchar(255),
    "lastName" varchar(255),
    photo varchar(255),
    phone varchar(255),
    "signedUpAt" timestamptz,
    "lastSeenAt" timestamptz,
    browser varchar(255),
    "browserVersion" varchar(255),
    "browserLanguage" varchar(255),
    os varchar(255),
    country varchar(255),
    region varchar(255),
    city varchar(255),
    title varchar(255),
    "websiteUrl" varchar(255),
    "companyName" varchar(255),
    industry varchar(255),
    traits jsonb,
    context jsonb,
    "createdAt" timestamptz NOT NULL DEFAULT now(),
    "updatedAt" timestamptz NOT NULL DEFAULT now(),
    "deletedAt" timestamptz
);

CREATE TABLE IF NOT EXISTS events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    "userId" uuid NOT NULL REFERENCES users (id),
    "personId" varchar(255),
    name varchar(255),
    type varchar(255),
    properties jsonb,
    context jsonb,
    source varchar(255),
    "sourceId" varchar(255),
    "messageId" varchar(255),
    "timestamp" timestamptz,
    "sentAt" timestamptz,
    "receivedAt" timestamptz,
    "createdAt" timestamptz NOT NULL DEFAULT now(),
    "updatedAt" timestamptz NOT NULL DEFAULT now(),
    "deletedAt" timestamptz,
    CONSTRAINT events_user_message_id UNIQUE ("userId", "messageId")
);

CREATE TABLE IF NOT EXISTS audiences (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    "userId" uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name varchar(255),
    node json,
    "executedAt" timestamptz,
    count integer,
    "localTo" varchar(255),
    "createdAt" timestamptz NOT NULL DEFAULT now(),
    "updatedAt" timestamptz NOT NULL DEFAULT now(),
    "deletedAt" timestamptz
);

CREATE TABLE IF NOT EXISTS emails (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    "userId" uuid NOT NULL REFERENCES users (id),
    name varchar(255),
    "from" varchar(255),
    "fromName" varchar(255),
    subject varchar(255),
    "bodyHtml" text,
    kind varchar(255) DEFAULT 'rich',
    "sentCount" integer,
    "localTo" varchar(255),
    "createdAt" timestamptz NOT NULL DEFAULT now(),
    "updatedAt" timestamptz NOT NULL DEFAULT now(),
    "deletedAt" timestamptz
);

CREATE TABLE IF NOT EXISTS sent_emails (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    "emailId" uuid NOT NULL REFERENCES emails (id),
    "productUserId" uuid NOT NULL REFERENCES product_users (id),
    "deliveredAt" timestamptz,
    "erroredAt" timestamptz,
    error varchar(255),
    "deliveryStatus" varchar(255),
    "createdAt" timestamptz NOT NULL DEFAULT now(),
    "updatedAt" timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS campaigns (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    "userId" uuid NOT NULL REFERENCES users (id),
    name varchar(255),
    state varchar(255),
    "isDraft" boolean,
    "launchedAt" timestamptz,
    "stoppedAt" timestamptz,
    "createdAt" timestamptz NOT NULL,
    "updatedAt" timestamptz NOT NULL,
    "deletedAt" timestamptz
);

CREATE TABLE IF NOT EXISTS campaign_nodes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    "userId" uuid NOT NULL REFERENCES users (id),
    "campaignId" uuid NOT NULL REFERENCES campaigns (id),
    name varchar(255),
    kind varchar(255),
    json jsonb,
    "positionX" integer,
    "positionY" integer,
    "timeoutAfter" integer,
    "createdAt" timestamptz NOT NULL,
    "updatedAt" timestamptz NOT NULL,
    "deletedAt" timestamptz
);

CREATE TABLE IF NOT EXISTS campaign_node_edges (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    "fromId" uuid NOT NULL REFERENCES campaign_nodes (id),
    "toId" uuid NOT NULL REFERENCES campaign_nodes (id),
    "edgeKind" varchar(255) NOT NULL,
    "createdAt" timestamptz NOT NULL,
    "updatedAt" timestamptz NOT NULL,
    "deletedAt" timestamptz
);

CREATE TABLE IF NOT EXISTS campaign_node_states (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    "campaignNodeId" uuid NOT NULL REFERENCES campaign_nodes (id),
    "campaignId" uuid NOT NULL REFERENCES campaigns (id),
    "productUserId" uuid NOT NULL REFERENCES product_users (id),
    "userId" uuid NOT NULL REFERENCES users (id),
    name varchar(255),
    state varchar(255),
    "didTimeout" boolean,
    attempts integer NOT NULL DEFAULT 0,
    "runAt" timestamptz NOT NULL,
    "timeoutAt" timestamptz,
    "completedAt" timestamptz,
    "createdAt" timestamptz NOT NULL,
    "updatedAt" timestamptz NOT NULL,
    "deletedAt" timestamptz
);

-- The API defines is_date(varchar) in one of its migrations; create it only where it is missing so
-- that the API's own definition is never replaced.
DO $$
BEGIN
    IF to_regprocedure('is_date(character varying)') IS NULL THEN
        CREATE FUNCTION is_date(s character varying) RETURNS boolean
        LANGUAGE plpgsql IMMUTABLE AS $body$
        BEGIN
            PERFORM s::date;
            RETURN true;
        EXCEPTION WHEN others THEN
            RETURN false;
        END;
        $body$;
    END IF;
END
$$;
