-- 401 and 403 answers by principal (user.id; "(none)" for requests that
-- carried no identity, the usual 401) and source (client.address, the
-- gateway's source IP, never X-Forwarded-For), over the last 7 days.
SELECT
  coalesce("user".id, '(none)') AS principal,
  coalesce(client.address, '(none)') AS source,
  http.response.status_code AS status,
  count(*) AS failures,
  count(DISTINCT http.route) AS routes,
  min(from_iso8601_timestamp(ts)) AS first_seen,
  max(from_iso8601_timestamp(ts)) AS last_seen
FROM audittrail
WHERE dt >= date_format(current_date - INTERVAL '7' DAY, '%Y-%m-%d')
  AND event.action = 'invocation'
  AND http.response.status_code IN (401, 403)
GROUP BY 1, 2, 3
ORDER BY failures DESC
LIMIT 100
