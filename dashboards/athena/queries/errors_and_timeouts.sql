-- Errors and timeouts: failed invocations that are not client errors, that
-- is a platform or function failure (aws.lambda.status error, failure or
-- timeout) or a 5xx answer, by function, Lambda status and error type, over
-- the last 7 days.
SELECT
  faas.name AS function_name,
  coalesce(aws.lambda.status, '(none)') AS lambda_status,
  coalesce(error.type, '(none)') AS error_type,
  count(*) AS failures,
  max_by(error.message, from_iso8601_timestamp(ts)) AS last_message,
  max(from_iso8601_timestamp(ts)) AS last_seen
FROM audittrail
WHERE dt >= date_format(current_date - INTERVAL '7' DAY, '%Y-%m-%d')
  AND event.action = 'invocation'
  AND event.outcome = 'failure'
  AND (aws.lambda.status IN ('error', 'failure', 'timeout')
       OR http.response.status_code >= 500)
GROUP BY 1, 2, 3
ORDER BY failures DESC
