-- Security findings by type and severity: one row per entry of the
-- invocations' security.findings (the security_finding records repeat
-- them, so they are left out), over the last 7 days.
SELECT
  finding.type AS type,
  finding.severity AS severity,
  count(*) AS findings,
  count(DISTINCT event.id) AS invocations,
  arbitrary(finding.reason) AS example_reason
FROM audittrail
CROSS JOIN UNNEST(security.findings) AS t (finding)
WHERE dt >= date_format(current_date - INTERVAL '7' DAY, '%Y-%m-%d')
  AND event.action = 'invocation'
GROUP BY 1, 2
ORDER BY findings DESC
