-- Human and machine engagement (docs/engagement.md).
-- machine_rule: the detection rule that made an open or click a machine's (ingest/machine.py),
-- empty for a human's. Rows stored before this migration keep their flag and no rule.
ALTER TABLE {db}.events ADD COLUMN machine_rule String;

-- engagement_counts / engagement_uniques: opens and clicks per minute, split into human
-- (machine = 0) and machine (machine = 1), for the whole campaign channel (dim = '') and per
-- value of each breakdown key an engagement widget uses, and per machine rule (the rule that
-- made an open or click a machine's: the breakdown machine_rule). A report with engagement=human
-- reads its opens and clicks here and every other type from the rollups of migration 0002.
CREATE TABLE IF NOT EXISTS {db}.engagement_counts (
    org UInt32,
    campaign String,
    channel Enum8('campaign' = 0, 'email' = 1, 'sms' = 2, 'push' = 3, 'inapp' = 4, 'web' = 5, 'directmail' = 6),
    dim String,
    minute DateTime('UTC'),
    type Enum8('entered' = 1, 'targeted' = 2, 'excluded' = 3, 'sent' = 4, 'delivered' = 5, 'bounce' = 6,
               'error' = 7, 'retry' = 8, 'open' = 9, 'click' = 10, 'unsubscribe' = 11,
               'spam_complaint' = 12, 'action' = 13, 'impression' = 14, 'interaction' = 15),
    execution String,
    machine UInt8,
    key String,
    events UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMMDD(minute)
ORDER BY (org, campaign, channel, dim, minute, type, execution, machine, key);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.engagement_counts_mv TO {db}.engagement_counts AS
SELECT org, campaign, channel, tupleElement(pair, 1) AS dim, toStartOfMinute(time) AS minute,
       type, execution, machine, tupleElement(pair, 2) AS key, count() AS events
FROM {db}.events
ARRAY JOIN arrayFilter(p -> tupleElement(p, 1) = '' OR tupleElement(p, 2) != '', [
    ('', ''), ('recipient_domain', recipient_domain), ('platform', toString(platform)),
    ('element', element), ('variant', variant), ('machine_rule', machine_rule)]) AS pair
WHERE type IN ('open', 'click')
GROUP BY org, campaign, channel, dim, minute, type, execution, machine, key;

CREATE TABLE IF NOT EXISTS {db}.engagement_uniques (
    org UInt32,
    campaign String,
    channel Enum8('campaign' = 0, 'email' = 1, 'sms' = 2, 'push' = 3, 'inapp' = 4, 'web' = 5, 'directmail' = 6),
    dim String,
    minute DateTime('UTC'),
    type Enum8('entered' = 1, 'targeted' = 2, 'excluded' = 3, 'sent' = 4, 'delivered' = 5, 'bounce' = 6,
               'error' = 7, 'retry' = 8, 'open' = 9, 'click' = 10, 'unsubscribe' = 11,
               'spam_complaint' = 12, 'action' = 13, 'impression' = 14, 'interaction' = 15),
    execution String,
    machine UInt8,
    key String,
    profiles AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(minute)
ORDER BY (org, campaign, channel, dim, minute, type, execution, machine, key);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.engagement_uniques_mv TO {db}.engagement_uniques AS
SELECT org, campaign, channel, tupleElement(pair, 1) AS dim, toStartOfMinute(time) AS minute,
       type, execution, machine, tupleElement(pair, 2) AS key, uniqExactState(profile) AS profiles
FROM {db}.events
ARRAY JOIN arrayFilter(p -> tupleElement(p, 1) = '' OR tupleElement(p, 2) != '', [
    ('', ''), ('recipient_domain', recipient_domain), ('platform', toString(platform)),
    ('element', element), ('variant', variant), ('machine_rule', machine_rule)]) AS pair
WHERE type IN ('open', 'click')
GROUP BY org, campaign, channel, dim, minute, type, execution, machine, key;

-- The opens and clicks stored before this migration (it runs at start, before any ingest).
INSERT INTO {db}.engagement_counts
SELECT org, campaign, channel, tupleElement(pair, 1) AS dim, toStartOfMinute(time) AS minute,
       type, execution, machine, tupleElement(pair, 2) AS key, count() AS events
FROM {db}.events
ARRAY JOIN arrayFilter(p -> tupleElement(p, 1) = '' OR tupleElement(p, 2) != '', [
    ('', ''), ('recipient_domain', recipient_domain), ('platform', toString(platform)),
    ('element', element), ('variant', variant), ('machine_rule', machine_rule)]) AS pair
WHERE type IN ('open', 'click')
GROUP BY org, campaign, channel, dim, minute, type, execution, machine, key;

INSERT INTO {db}.engagement_uniques
SELECT org, campaign, channel, tupleElement(pair, 1) AS dim, toStartOfMinute(time) AS minute,
       type, execution, machine, tupleElement(pair, 2) AS key, uniqExactState(profile) AS profiles
FROM {db}.events
ARRAY JOIN arrayFilter(p -> tupleElement(p, 1) = '' OR tupleElement(p, 2) != '', [
    ('', ''), ('recipient_domain', recipient_domain), ('platform', toString(platform)),
    ('element', element), ('variant', variant), ('machine_rule', machine_rule)]) AS pair
WHERE type IN ('open', 'click')
GROUP BY org, campaign, channel, dim, minute, type, execution, machine, key;
