-- Top routes: requests per route template (http.route) and method, with
-- their failures and 95th percentile duration, over the last 7 days.
SELECT
  http.request.method AS method,
  http.route AS route,
  count(*) AS requests,
  count_if(event.outcome = 'failure') AS failures,
  approx_percentile(aws.lambda.duration_ms, 0.95) AS p95_duration_ms
FROM audittrail
WHERE dt >= date_format(current_date - INTERVAL '7' DAY, '%Y-%m-%d')
  AND event.action = 'invocation'
  AND http.route IS NOT NULL
GROUP BY 1, 2
ORDER BY requests DESC
LIMIT 20
