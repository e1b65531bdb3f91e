-- The audit trail archived by the s3 sink, as an Athena table.
--
-- The sink writes one object per batch,
--   <prefix>dt=YYYY-MM-DD/<function>/<env>-<seq from>-<seq to>-<hash>.ndjson.gz (or .ndjson.zst),
-- one record (schema/README.md) per line. dt is the UTC date of the batch's
-- first record. Athena reads every object under a partition's location,
-- the <function>/ folders included, and decompresses by file extension.
--
-- Replace s3://BUCKET/PREFIX/ (twice: LOCATION and storage.location.template)
-- with the sink's AUDITTRAIL_S3_BUCKET and AUDITTRAIL_S3_PREFIX (default
-- "audittrail/"), and the start of projection.dt.range with the first day of
-- the archive. Partition projection computes the partitions: no crawler and
-- no MSCK REPAIR TABLE are needed.
--
-- Columns follow schema/record.schema.json: objects are structs, arrays are
-- arrays, integers bigint (http.response.status_code int), other numbers
-- double. Times (@timestamp, event.start, event.end) stay strings: ISO 8601
-- with up to nanoseconds, which from_iso8601_timestamp() reads. @timestamp is
-- the column ts (a column name cannot start with @): see mapping.ts below.
-- Every name is quoted with backticks, since some are reserved words in DDL
-- (user, start, end).
CREATE EXTERNAL TABLE IF NOT EXISTS `audittrail` (
  `ts` string,
  `event` struct<
    `id`:string, `kind`:string, `action`:string, `outcome`:string, `reason`:string,
    `start`:string, `end`:string, `duration`:bigint>,
  `audit` struct<
    `schema_version`:string, `capture`:string, `env_id`:string, `incomplete`:boolean,
    `seq`:bigint, `prev_hash`:string, `hash`:string, `hash_alg`:string>,
  `cloud` struct<
    `provider`:string, `platform`:string, `region`:string,
    `account`:struct<`id`:string>, `resource_id`:string>,
  `faas` struct<
    `name`:string, `version`:string, `instance`:string, `max_memory`:bigint,
    `invocation_id`:string, `coldstart`:boolean, `trigger`:string>,
  `aws` struct<
    `lambda`:struct<
      `invoked_arn`:string, `status`:string, `duration_ms`:double, `billed_duration_ms`:bigint,
      `memory_size_mb`:bigint, `max_memory_used_mb`:bigint, `init_duration_ms`:double,
      `restore_duration_ms`:double, `produced_bytes`:bigint, `initialization_type`:string,
      `init_phase`:string, `runtime_version`:string, `runtime_version_arn`:string,
      `shutdown_reason`:string>,
    `xray`:struct<`trace_id`:string, `sampled`:boolean>>,
  `http` struct<
    `request`:struct<
      `method`:string, `body`:struct<`size`:bigint>, `mime_type`:string,
      `header`:map<string, array<string>>>,
    `response`:struct<`status_code`:int, `body`:struct<`size`:bigint>, `mime_type`:string>,
    `route`:string>,
  `url` struct<`path`:string, `query`:string, `scheme`:string>,
  `server` struct<`address`:string>,
  `client` struct<`address`:string>,
  `user_agent` struct<`original`:string>,
  `api` struct<
    `gateway`:string, `id`:string, `stage`:string, `request_id`:string, `event_type`:string,
    `connection_id`:string, `source_arns`:array<string>, `records`:bigint>,
  `user` struct<`id`:string, `name`:string>,
  `auth` struct<
    `type`:string, `scopes`:array<string>, `client_id`:string, `api_key_id`:string,
    `cert_subject`:string>,
  `error` struct<`type`:string, `message`:string>,
  `security` struct<
    `findings`:array<struct<
      `type`:string, `severity`:string, `reason`:string,
      `evidence`:struct<
        `location`:string, `rule`:string, `kinds`:array<string>, `counts`:array<bigint>,
        `key`:string, `count`:bigint, `threshold`:bigint, `window_seconds`:double,
        `observed`:double, `baseline`:double, `expected`:array<string>>>>,
    `invocation_id`:string>,
  `coverage_gap` struct<
    `reason`:string, `source`:string, `records`:bigint, `bytes`:bigint, `sink`:string,
    `seq_from`:bigint, `seq_to`:bigint, `env_id`:string, `detail`:string>,
  `log` struct<`origin`:string, `level`:string, `message`:string, `truncated`:boolean>
)
PARTITIONED BY (`dt` string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES (
  'mapping.ts' = '@timestamp'
)
LOCATION 's3://BUCKET/PREFIX/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2026-01-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://BUCKET/PREFIX/dt=${dt}/'
)
