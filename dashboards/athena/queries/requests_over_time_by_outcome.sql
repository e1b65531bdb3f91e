-- Requests over time by outcome: invocations per hour, split by
-- event.outcome (success, failure, unknown), over the last 7 days.
SELECT
  date_trunc('hour', from_iso8601_timestamp(ts)) AS hour,
  event.outcome AS outcome,
  count(*) AS requests
FROM audittrail
WHERE dt >= date_format(current_date - INTERVAL '7' DAY, '%Y-%m-%d')
  AND event.action = 'invocation'
GROUP BY 1, 2
ORDER BY 1, 2
