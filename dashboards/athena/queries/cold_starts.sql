-- Cold starts: invocations that included the init (faas.coldstart), per
-- hour and function, with their share and the mean init duration, over the
-- last 7 days.
SELECT
  date_trunc('hour', from_iso8601_timestamp(ts)) AS hour,
  faas.name AS function_name,
  count_if(faas.coldstart) AS cold_starts,
  count(*) AS invocations,
  avg(aws.lambda.init_duration_ms) AS avg_init_duration_ms
FROM audittrail
WHERE dt >= date_format(current_date - INTERVAL '7' DAY, '%Y-%m-%d')
  AND event.action = 'invocation'
GROUP BY 1, 2
HAVING count_if(faas.coldstart) > 0
ORDER BY 1, 2
