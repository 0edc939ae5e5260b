-- Per-minute rollups kept by materialized views: reports read these, never the raw events.
-- minute_counts: events per campaign, channel, execution, type and bounce category.
CREATE TABLE IF NOT EXISTS {db}.minute_counts (
    org UInt32,
    campaign String,
    channel Enum8('campaign' = 0, 'email' = 1, 'sms' = 2, 'push' = 3, 'inapp' = 4, 'web' = 5, 'directmail' = 6),
    minute DateTime('UTC'),
    type Enum8('entered' = 1, 'targeted' = 2, 'excluded' = 3, 'sent' = 4, 'delivered' = 5, 'bounce' = 6,
               'error' = 7, 'retry' = 8, 'open' = 9, 'click' = 10, 'unsubscribe' = 11,
               'spam_complaint' = 12, 'action' = 13, 'impression' = 14, 'interaction' = 15),
    execution String,
    bounce Enum8('' = 0, 'hard' = 1, 'soft' = 2, 'ignored' = 3),
    events UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMMDD(minute)
ORDER BY (org, campaign, channel, minute, type, execution, bounce);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.minute_counts_mv TO {db}.minute_counts AS
SELECT org, campaign, channel, toStartOfMinute(time) AS minute, type, execution, bounce,
       count() AS events
FROM {db}.events
GROUP BY org, campaign, channel, minute, type, execution, bounce;

-- minute_uniques: exact distinct-profile states, only for the types whose uniques are reported.
CREATE TABLE IF NOT EXISTS {db}.minute_uniques (
    org UInt32,
    campaign String,
    channel Enum8('campaign' = 0, 'email' = 1, 'sms' = 2, 'push' = 3, 'inapp' = 4, 'web' = 5, 'directmail' = 6),
    minute DateTime('UTC'),
    type Enum8('entered' = 1, 'targeted' = 2, 'excluded' = 3, 'sent' = 4, 'delivered' = 5, 'bounce' = 6,
               'error' = 7, 'retry' = 8, 'open' = 9, 'click' = 10, 'unsubscribe' = 11,
               'spam_complaint' = 12, 'action' = 13, 'impression' = 14, 'interaction' = 15),
    execution String,
    profiles AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(minute)
ORDER BY (org, campaign, channel, minute, type, execution);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.minute_uniques_mv TO {db}.minute_uniques AS
SELECT org, campaign, channel, toStartOfMinute(time) AS minute, type, execution,
       uniqExactState(profile) AS profiles
FROM {db}.events
WHERE type IN ('entered', 'open', 'click', 'impression', 'interaction')
GROUP BY org, campaign, channel, minute, type, execution;

-- dim_counts / dim_uniques: the same, per value of each breakdown key the event carries.
CREATE TABLE IF NOT EXISTS {db}.dim_counts (
    org UInt32,
    campaign String,
    channel Enum8('campaign' = 0, 'email' = 1, 'sms' = 2, 'push' = 3, 'inapp' = 4, 'web' = 5, 'directmail' = 6),
    dim String,
    minute DateTime('UTC'),
    type Enum8('entered' = 1, 'targeted' = 2, 'excluded' = 3, 'sent' = 4, 'delivered' = 5, 'bounce' = 6,
               'error' = 7, 'retry' = 8, 'open' = 9, 'click' = 10, 'unsubscribe' = 11,
               'spam_complaint' = 12, 'action' = 13, 'impression' = 14, 'interaction' = 15),
    execution String,
    bounce Enum8('' = 0, 'hard' = 1, 'soft' = 2, 'ignored' = 3),
    key String,
    events UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMMDD(minute)
ORDER BY (org, campaign, channel, dim, minute, type, execution, bounce, key);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.dim_counts_mv TO {db}.dim_counts AS
SELECT org, campaign, channel, tupleElement(pair, 1) AS dim, toStartOfMinute(time) AS minute,
       type, execution, bounce, tupleElement(pair, 2) AS key, count() AS events
FROM {db}.events
ARRAY JOIN arrayFilter(p -> tupleElement(p, 2) != '', [
    ('reason', reason), ('bounce', toString(bounce)), ('recipient_domain', recipient_domain),
    ('platform', toString(platform)), ('interaction', toString(interaction)),
    ('element', element), ('variant', variant)]) AS pair
GROUP BY org, campaign, channel, dim, minute, type, execution, bounce, key;

CREATE TABLE IF NOT EXISTS {db}.dim_uniques (
    org UInt32,
    campaign String,
    channel Enum8('campaign' = 0, 'email' = 1, 'sms' = 2, 'push' = 3, 'inapp' = 4, 'web' = 5, 'directmail' = 6),
    dim String,
    minute DateTime('UTC'),
    type Enum8('entered' = 1, 'targeted' = 2, 'excluded' = 3, 'sent' = 4, 'delivered' = 5, 'bounce' = 6,
               'error' = 7, 'retry' = 8, 'open' = 9, 'click' = 10, 'unsubscribe' = 11,
               'spam_complaint' = 12, 'action' = 13, 'impression' = 14, 'interaction' = 15),
    execution String,
    key String,
    profiles AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(minute)
ORDER BY (org, campaign, channel, dim, minute, type, execution, key);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.dim_uniques_mv TO {db}.dim_uniques AS
SELECT org, campaign, channel, tupleElement(pair, 1) AS dim, toStartOfMinute(time) AS minute,
       type, execution, tupleElement(pair, 2) AS key, uniqExactState(profile) AS profiles
FROM {db}.events
ARRAY JOIN arrayFilter(p -> tupleElement(p, 2) != '', [
    ('reason', reason), ('recipient_domain', recipient_domain),
    ('platform', toString(platform)), ('interaction', toString(interaction)),
    ('element', element), ('variant', variant)]) AS pair
WHERE type IN ('entered', 'open', 'click', 'impression', 'interaction')
GROUP BY org, campaign, channel, dim, minute, type, execution, key;

-- campaigns: first and last event time per campaign and channel, for the campaign list.
CREATE TABLE IF NOT EXISTS {db}.campaigns (
    org UInt32,
    campaign String,
    channel Enum8('campaign' = 0, 'email' = 1, 'sms' = 2, 'push' = 3, 'inapp' = 4, 'web' = 5, 'directmail' = 6),
    day Date,
    first AggregateFunction(min, DateTime('UTC')),
    last AggregateFunction(max, DateTime('UTC'))
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(day)
ORDER BY (org, campaign, channel, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.campaigns_mv TO {db}.campaigns AS
SELECT org, campaign, channel, toDate(time) AS day, minState(time) AS first, maxState(time) AS last
FROM {db}.events
GROUP BY org, campaign, channel, day;
