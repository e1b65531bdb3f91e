-- Coverage gaps: what is missing from the trail and why. Each coverage_gap
-- record accounts for coverage_gap.records lost records (Lambda's or the
-- extension's), over the last 7 days.
SELECT
  faas.name AS function_name,
  coverage_gap.source AS lost_by,
  coverage_gap.reason AS reason,
  coalesce(coverage_gap.sink, '-') AS sink,
  count(*) AS gaps,
  sum(coverage_gap.records) AS records_lost,
  sum(coverage_gap.bytes) AS bytes_lost,
  max_by(coverage_gap.detail, from_iso8601_timestamp(ts)) AS last_detail
FROM audittrail
WHERE dt >= date_format(current_date - INTERVAL '7' DAY, '%Y-%m-%d')
  AND event.action = 'coverage_gap'
GROUP BY 1, 2, 3, 4
ORDER BY records_lost DESC
