// The example function of the audittrail Terraform module: it answers every
// request with 200. audittrail records each invocation around it.
exports.handler = async (event) => ({
  statusCode: 200,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ ok: true }),
});
