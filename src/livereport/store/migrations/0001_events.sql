-- Raw events: one row per accepted (de-duplicated) event, partitioned by day of event time.
-- Ordered by (org, id) so the duplicate check finds an id with the primary index.
CREATE TABLE IF NOT EXISTS {db}.events (
    org UInt32,
    id String,
    time DateTime('UTC'),
    ms UInt16,
    received DateTime('UTC'),
    campaign String,
    channel Enum8('campaign' = 0, 'email' = 1, 'sms' = 2, 'push' = 3, 'inapp' = 4, 'web' = 5, 'directmail' = 6),
    type Enum8('entered' = 1, 'targeted' = 2, 'excluded' = 3, 'sent' = 4, 'delivered' = 5, 'bounce' = 6,
               'error' = 7, 'retry' = 8, 'open' = 9, 'click' = 10, 'unsubscribe' = 11,
               'spam_complaint' = 12, 'action' = 13, 'impression' = 14, 'interaction' = 15),
    profile String,
    execution String,
    variant String,
    reason String,
    code String,
    bounce Enum8('' = 0, 'hard' = 1, 'soft' = 2, 'ignored' = 3),
    smtp_status String,
    smtp_code UInt16,
    smtp_diagnostic String,
    recipient_domain String,
    platform Enum8('' = 0, 'ios' = 1, 'android' = 2, 'web' = 3, 'other' = 4),
    interaction Enum8('' = 0, 'click' = 1, 'dismiss' = 2, 'other' = 3),
    element String,
    url String,
    machine UInt8
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (org, id);
