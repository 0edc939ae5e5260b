-- Per campaign, channel and hour: the events of each type.
-- The campaign overview, the org totals and the org's leading campaigns read these
-- (report/overview.py). A campaign that sends a few events a minute fills a row of
-- minute_counts per event, and 10,000 such campaigns over 30 days are millions of rows;
-- here they are a row per campaign, channel and hour. Bounce categories are not kept: a
-- reclassification of stored bounces (bounces/reclassify.py) changes them, never a type.
CREATE TABLE IF NOT EXISTS {db}.campaign_hours (
    org UInt32,
    campaign String,
    channel Enum8('campaign' = 0, 'email' = 1, 'sms' = 2, 'push' = 3, 'inapp' = 4, 'web' = 5, 'directmail' = 6),
    hour DateTime('UTC'),
    events UInt64,
    entered_events UInt64,
    targeted_events UInt64,
    excluded_events UInt64,
    sent_events UInt64,
    delivered_events UInt64,
    bounce_events UInt64,
    error_events UInt64,
    retry_events UInt64,
    open_events UInt64,
    click_events UInt64,
    unsubscribe_events UInt64,
    spam_complaint_events UInt64,
    action_events UInt64,
    impression_events UInt64,
    interaction_events UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMMDD(hour)
ORDER BY (org, campaign, hour, channel);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.campaign_hours_mv TO {db}.campaign_hours AS
SELECT org, campaign, channel, toStartOfHour(time) AS hour,
       count() AS events, countIf(type = 'entered') AS entered_events,
       countIf(type = 'targeted') AS targeted_events,
       countIf(type = 'excluded') AS excluded_events, countIf(type = 'sent') AS sent_events,
       countIf(type = 'delivered') AS delivered_events,
       countIf(type = 'bounce') AS bounce_events, countIf(type = 'error') AS error_events,
       countIf(type = 'retry') AS retry_events, countIf(type = 'open') AS open_events,
       countIf(type = 'click') AS click_events,
       countIf(type = 'unsubscribe') AS unsubscribe_events,
       countIf(type = 'spam_complaint') AS spam_complaint_events,
       countIf(type = 'action') AS action_events,
       countIf(type = 'impression') AS impression_events,
       countIf(type = 'interaction') AS interaction_events
FROM {db}.events
GROUP BY org, campaign, channel, hour;

-- The events stored before this migration (it runs at start, before any ingest).
INSERT INTO {db}.campaign_hours
SELECT org, campaign, channel, toStartOfHour(time) AS hour,
       count() AS events, countIf(type = 'entered') AS entered_events,
       countIf(type = 'targeted') AS targeted_events,
       countIf(type = 'excluded') AS excluded_events, countIf(type = 'sent') AS sent_events,
       countIf(type = 'delivered') AS delivered_events,
       countIf(type = 'bounce') AS bounce_events, countIf(type = 'error') AS error_events,
       countIf(type = 'retry') AS retry_events, countIf(type = 'open') AS open_events,
       countIf(type = 'click') AS click_events,
       countIf(type = 'unsubscribe') AS unsubscribe_events,
       countIf(type = 'spam_complaint') AS spam_complaint_events,
       countIf(type = 'action') AS action_events,
       countIf(type = 'impression') AS impression_events,
       countIf(type = 'interaction') AS interaction_events
FROM {db}.events
GROUP BY org, campaign, channel, hour;

-- The same per campaign, channel and day (its start), for the whole days of long periods.
CREATE TABLE IF NOT EXISTS {db}.campaign_days (
    org UInt32,
    campaign String,
    channel Enum8('campaign' = 0, 'email' = 1, 'sms' = 2, 'push' = 3, 'inapp' = 4, 'web' = 5, 'directmail' = 6),
    day DateTime('UTC'),
    events UInt64,
    entered_events UInt64,
    targeted_events UInt64,
    excluded_events UInt64,
    sent_events UInt64,
    delivered_events UInt64,
    bounce_events UInt64,
    error_events UInt64,
    retry_events UInt64,
    open_events UInt64,
    click_events UInt64,
    unsubscribe_events UInt64,
    spam_complaint_events UInt64,
    action_events UInt64,
    impression_events UInt64,
    interaction_events UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMMDD(day)
ORDER BY (org, campaign, day, channel);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.campaign_days_mv TO {db}.campaign_days AS
SELECT org, campaign, channel, toStartOfDay(time) AS day,
       count() AS events, countIf(type = 'entered') AS entered_events,
       countIf(type = 'targeted') AS targeted_events,
       countIf(type = 'excluded') AS excluded_events, countIf(type = 'sent') AS sent_events,
       countIf(type = 'delivered') AS delivered_events,
       countIf(type = 'bounce') AS bounce_events, countIf(type = 'error') AS error_events,
       countIf(type = 'retry') AS retry_events, countIf(type = 'open') AS open_events,
       countIf(type = 'click') AS click_events,
       countIf(type = 'unsubscribe') AS unsubscribe_events,
       countIf(type = 'spam_complaint') AS spam_complaint_events,
       countIf(type = 'action') AS action_events,
       countIf(type = 'impression') AS impression_events,
       countIf(type = 'interaction') AS interaction_events
FROM {db}.events
GROUP BY org, campaign, channel, day;

INSERT INTO {db}.campaign_days
SELECT org, campaign, channel, toStartOfDay(time) AS day,
       count() AS events, countIf(type = 'entered') AS entered_events,
       countIf(type = 'targeted') AS targeted_events,
       countIf(type = 'excluded') AS excluded_events, countIf(type = 'sent') AS sent_events,
       countIf(type = 'delivered') AS delivered_events,
       countIf(type = 'bounce') AS bounce_events, countIf(type = 'error') AS error_events,
       countIf(type = 'retry') AS retry_events, countIf(type = 'open') AS open_events,
       countIf(type = 'click') AS click_events,
       countIf(type = 'unsubscribe') AS unsubscribe_events,
       countIf(type = 'spam_complaint') AS spam_complaint_events,
       countIf(type = 'action') AS action_events,
       countIf(type = 'impression') AS impression_events,
       countIf(type = 'interaction') AS interaction_events
FROM {db}.events
GROUP BY org, campaign, channel, day;

-- Per campaign: its channels (a bit per channel, as the Enum numbers them), first and last
-- event. The overview lists every campaign of an org from here: a row per campaign, where
-- the campaigns table has one per campaign, channel and day. Not partitioned: a campaign
-- whose events have all left the retention period is left out by its last event, and the
-- overview takes the first event and channels of the campaigns it shows from the campaigns
-- table, which retention trims.
CREATE TABLE IF NOT EXISTS {db}.campaign_life (
    org UInt32,
    campaign String,
    channels AggregateFunction(groupBitOr, UInt8),
    first AggregateFunction(min, DateTime('UTC')),
    last AggregateFunction(max, DateTime('UTC'))
) ENGINE = AggregatingMergeTree
ORDER BY (org, campaign);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.campaign_life_mv TO {db}.campaign_life AS
SELECT org, campaign,
       groupBitOrState(toUInt8(bitShiftLeft(toUInt8(1), toUInt8(indexOf(
           ['campaign', 'email', 'sms', 'push', 'inapp', 'web', 'directmail'], toString(channel)) - 1)))) AS channels,
       minState(time) AS first, maxState(time) AS last
FROM {db}.events
GROUP BY org, campaign;

INSERT INTO {db}.campaign_life
SELECT org, campaign,
       groupBitOrState(toUInt8(bitShiftLeft(toUInt8(1), toUInt8(indexOf(
           ['campaign', 'email', 'sms', 'push', 'inapp', 'web', 'directmail'], toString(channel)) - 1)))) AS channels,
       minState(time) AS first, maxState(time) AS last
FROM {db}.events
GROUP BY org, campaign
