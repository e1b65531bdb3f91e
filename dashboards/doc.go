// Package dashboards holds the in-SIEM assets for the audit trail: what to
// import into Splunk, Kibana, Datadog and Athena so that the records the
// sinks deliver can be searched and watched (README.md says how to import
// each, and what each panel shows).
//
//   - splunk/audittrail: a Splunk app (savedsearches.conf, macros.conf,
//     props.conf and the Simple XML dashboard audittrail_overview).
//   - kibana/audittrail.ndjson: saved objects for Kibana 8.8 and later (a
//     data view on logs-audittrail-*, saved searches, visualizations and
//     the dashboard), for the saved objects import API. The index template
//     is the elasticsearch sink's (sinks/elasticsearch/template.json,
//     installed by `audittrail elasticsearch-template`).
//   - datadog: a logs pipeline (Logs Pipelines API), a dashboard
//     (Dashboards API) and the list of facets the dashboard needs.
//   - athena: the table over the s3 sink's archive (CREATE EXTERNAL TABLE
//     with the OpenX JSON SerDe and partition projection) and one query
//     per question the dashboards answer.
//
// The package has no code: its tests read every asset, extract every
// record field the asset uses (SPL, KQL, Datadog queries and processors,
// SQL and the DDL's structs) and check that it exists in
// schema/record.schema.json, or is one of the few fields the SIEM itself
// adds (an explicit list per SIEM); they also check each asset's
// structure (it parses, its references resolve, its queries are there).
package dashboards
