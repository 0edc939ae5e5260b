-- Distinct profiles of the live window, counted without merging profile sets.
-- A profile counts in a window when its last occurrence falls inside it. unique_last keeps
-- each profile's last minute per group (campaign, channel, type, execution or all of them,
-- breakdown key); unique_minutes counts, per group and minute, the profiles whose last
-- occurrence is that minute. A window's distinct profiles are then a sum over its minutes.
-- Ingest writes "moves" (a profile's last minute going from old to new) into unique_moves,
-- which keeps nothing itself: its two views update both tables from the same insert.
CREATE TABLE IF NOT EXISTS {db}.unique_moves (
    org UInt32,
    campaign String,
    channel Enum8('campaign' = 0, 'email' = 1, 'sms' = 2, 'push' = 3, 'inapp' = 4, 'web' = 5, 'directmail' = 6),
    type Enum8('entered' = 1, 'targeted' = 2, 'excluded' = 3, 'sent' = 4, 'delivered' = 5, 'bounce' = 6,
               'error' = 7, 'retry' = 8, 'open' = 9, 'click' = 10, 'unsubscribe' = 11,
               'spam_complaint' = 12, 'action' = 13, 'impression' = 14, 'interaction' = 15),
    every_execution UInt8,
    execution String,
    dim String,
    key String,
    profile String,
    old DateTime('UTC'),
    new DateTime('UTC')
) ENGINE = Null;

CREATE TABLE IF NOT EXISTS {db}.unique_last (
    org UInt32,
    campaign String,
    channel Enum8('campaign' = 0, 'email' = 1, 'sms' = 2, 'push' = 3, 'inapp' = 4, 'web' = 5, 'directmail' = 6),
    type Enum8('entered' = 1, 'targeted' = 2, 'excluded' = 3, 'sent' = 4, 'delivered' = 5, 'bounce' = 6,
               'error' = 7, 'retry' = 8, 'open' = 9, 'click' = 10, 'unsubscribe' = 11,
               'spam_complaint' = 12, 'action' = 13, 'impression' = 14, 'interaction' = 15),
    every_execution UInt8,
    execution String,
    dim String,
    key String,
    profile String,
    last DateTime('UTC'),
    -- the key as one number, for the lookup of a batch's keys (store/window.py)
    hkey UInt64
) ENGINE = ReplacingMergeTree(last)
PARTITION BY toYYYYMMDD(last)
ORDER BY (org, campaign, profile, channel, type, every_execution, execution, dim, key)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.unique_last_mv TO {db}.unique_last AS
SELECT org, campaign, channel, type, every_execution, execution, dim, key, profile, new AS last,
       sipHash64(toString(channel), toString(type), every_execution, execution, dim, key, profile) AS hkey
FROM {db}.unique_moves;

CREATE TABLE IF NOT EXISTS {db}.unique_minutes (
    org UInt32,
    campaign String,
    channel Enum8('campaign' = 0, 'email' = 1, 'sms' = 2, 'push' = 3, 'inapp' = 4, 'web' = 5, 'directmail' = 6),
    type Enum8('entered' = 1, 'targeted' = 2, 'excluded' = 3, 'sent' = 4, 'delivered' = 5, 'bounce' = 6,
               'error' = 7, 'retry' = 8, 'open' = 9, 'click' = 10, 'unsubscribe' = 11,
               'spam_complaint' = 12, 'action' = 13, 'impression' = 14, 'interaction' = 15),
    every_execution UInt8,
    dim String,
    execution String,
    key String,
    minute DateTime('UTC'),
    profiles Int64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMMDD(minute)
ORDER BY (org, campaign, channel, type, every_execution, dim, execution, key, minute);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.unique_minutes_mv TO {db}.unique_minutes AS
SELECT org, campaign, channel, type, every_execution, dim, execution, key,
       tupleElement(move, 1) AS minute, sum(tupleElement(move, 2)) AS profiles
FROM {db}.unique_moves
ARRAY JOIN if(toUInt32(old) = 0, [(new, toInt64(1))], [(old, toInt64(-1)), (new, toInt64(1))]) AS move
GROUP BY org, campaign, channel, type, every_execution, dim, execution, key, minute;
