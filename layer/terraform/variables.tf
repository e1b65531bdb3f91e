variable "architecture" {
  description = "Instruction set of the layer and of the function: x86_64 or arm64."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "The architecture must be x86_64 or arm64."
  }
}

variable "layer_zip" {
  description = "Path of the layer zip built by `make layer`. Default: dist/audittrail-layer-<architecture>.zip of the repository this module sits in."
  type        = string
  default     = null
}

variable "layer_name" {
  description = "Name of the layer; the architecture is appended (audittrail-arm64)."
  type        = string
  default     = "audittrail"
}

variable "function_name" {
  description = "Name of the function that gets the layer."
  type        = string
  default     = "audittrail-example"
}

variable "function_zip" {
  description = "Path of the function's deployment package, e.g. the example: (cd example && zip ../example.zip index.js)."
  type        = string
}

variable "function_runtime" {
  description = "Runtime of the function. Runtimes that honour AWS_LAMBDA_EXEC_WRAPPER (Node.js, Python, Java, .NET, Ruby) record requests through the wrapper; on provided.* end the bootstrap with `exec /opt/audittrail-wrapper ./your-binary` instead."
  type        = string
  default     = "nodejs22.x"
}

variable "function_handler" {
  description = "Handler of the function."
  type        = string
  default     = "index.handler"
}

variable "sinks" {
  description = "AUDITTRAIL_SINKS: the sinks to deliver to, comma-separated. splunk is configured by this module; give the others' variables in extra_environment."
  type        = string
  default     = "splunk"

  validation {
    condition     = alltrue([for s in split(",", var.sinks) : contains(["splunk", "elasticsearch", "datadog", "otlp", "s3", "http", "file", "stdout"], trimspace(s))])
    error_message = "Each sink must be one of splunk, elasticsearch, datadog, otlp, s3, http, file, stdout."
  }
}

variable "splunk_url" {
  description = "AUDITTRAIL_SPLUNK_URL: the Splunk HEC base URL, e.g. https://hec.example.splunkcloud.com:8088."
  type        = string

  validation {
    condition     = startswith(var.splunk_url, "https://")
    error_message = "The Splunk HEC URL must start with https://."
  }
}

variable "splunk_token_secret_arn" {
  description = "AUDITTRAIL_SPLUNK_TOKEN_SECRET_ARN: full ARN (with its six-character suffix) of the Secrets Manager secret holding the HEC token. The function's role may read this secret and no other."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.splunk_token_secret_arn))
    error_message = "The token must be given as a Secrets Manager secret ARN."
  }
}

variable "secret_kms_key_arn" {
  description = "ARN of the customer managed KMS key that encrypts the secrets, if any: the role may then decrypt with it through Secrets Manager, for those secrets only. Leave null for the default key aws/secretsmanager."
  type        = string
  default     = null

  validation {
    condition     = var.secret_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.secret_kms_key_arn))
    error_message = "The KMS key must be given as a key ARN (not an alias)."
  }
}

variable "extra_secret_arns" {
  description = "ARNs of further Secrets Manager secrets named in extra_environment (..._SECRET_ARN variables): the role may read them too."
  type        = list(string)
  default     = []
}

variable "extra_environment" {
  description = "Further audittrail variables (see the Configuration table of the README), e.g. { AUDITTRAIL_FLUSH = \"end\" }. The module's own variables win over these."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment) : can(regex("^(AUDITTRAIL_[A-Z0-9_]+|DD_API_KEY|DD_SITE|OTEL_EXPORTER_OTLP_[A-Z_]+|AWS_ENDPOINT_URL_S3)$", k))])
    error_message = "extra_environment takes only variables the extension reads: AUDITTRAIL_*, DD_API_KEY, DD_SITE, OTEL_EXPORTER_OTLP_*, AWS_ENDPOINT_URL_S3."
  }
}

variable "additional_policies" {
  description = "Further inline policies of the function's role, name => JSON document, for the other needs of layer/iam (an S3 archive, OpenSearch, SSM parameters)."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Retention of the function's CloudWatch log group (the extension's logs, and the records it could not deliver)."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags of every resource that takes tags."
  type        = map(string)
  default     = {}
}
