# The audittrail layer, and a function that runs with it and sends its audit
# trail to Splunk HEC, with a role that may do exactly what that needs.

data "aws_partition" "current" {}

locals {
  layer_zip = coalesce(var.layer_zip, "${path.module}/../../dist/audittrail-layer-${var.architecture}.zip")

  # The region of the HEC token's secret, for the KMS condition.
  secret_region = split(":", var.splunk_token_secret_arn)[3]
  secret_arns   = concat([var.splunk_token_secret_arn], var.extra_secret_arns)

  # The function's environment. The wrapper lets the extension's Runtime API
  # proxy record each request and response.
  environment = merge(var.extra_environment, {
    AWS_LAMBDA_EXEC_WRAPPER            = "/opt/audittrail-wrapper"
    AUDITTRAIL_SINKS                   = var.sinks
    AUDITTRAIL_SPLUNK_URL              = var.splunk_url
    AUDITTRAIL_SPLUNK_TOKEN_SECRET_ARN = var.splunk_token_secret_arn
  })
}

resource "aws_lambda_layer_version" "audittrail" {
  layer_name               = "${var.layer_name}-${var.architecture}"
  description              = "audittrail Lambda extension (/opt/extensions/audittrail) and exec wrapper (/opt/audittrail-wrapper)"
  filename                 = local.layer_zip
  source_code_hash         = filebase64sha256(local.layer_zip)
  compatible_architectures = [var.architecture]
  # The extension is a static binary and the wrapper a POSIX shell script:
  # the layer works with every runtime, so compatible_runtimes is left out.
}

data "aws_iam_policy_document" "assume_role" {
  statement {
    sid     = "LambdaAssumesTheRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = "${var.function_name}-role"
  assume_role_policy = data.aws_iam_policy_document.assume_role.json
  tags               = var.tags
}

# CloudWatch Logs: the function's and the extension's logs.
resource "aws_iam_role_policy_attachment" "basic_execution" {
  role       = aws_iam_role.function.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

# What the extension itself calls with this configuration: the secrets, and
# the key that encrypts them when it is a customer managed one.
data "aws_iam_policy_document" "audittrail" {
  statement {
    sid       = "AudittrailReadSecrets"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.secret_arns
  }

  dynamic "statement" {
    for_each = var.secret_kms_key_arn == null ? [] : [var.secret_kms_key_arn]
    content {
      sid       = "AudittrailDecryptSecretsWithCustomerManagedKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.secret_region}.amazonaws.com"]
      }

      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:SecretARN"
        values   = local.secret_arns
      }
    }
  }
}

resource "aws_iam_role_policy" "audittrail" {
  name   = "audittrail"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.audittrail.json
}

resource "aws_iam_role_policy" "additional" {
  for_each = var.additional_policies

  name   = each.key
  role   = aws_iam_role.function.id
  policy = each.value
}

resource "aws_cloudwatch_log_group" "function" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_lambda_function" "example" {
  function_name    = var.function_name
  description      = "Function with the audittrail layer, sending its audit trail to Splunk HEC"
  role             = aws_iam_role.function.arn
  runtime          = var.function_runtime
  handler          = var.function_handler
  filename         = var.function_zip
  source_code_hash = filebase64sha256(var.function_zip)
  architectures    = [var.architecture]
  layers           = [aws_lambda_layer_version.audittrail.arn]
  memory_size      = 256
  timeout          = 10
  tags             = var.tags

  environment {
    variables = local.environment
  }

  depends_on = [
    aws_cloudwatch_log_group.function,
    aws_iam_role_policy_attachment.basic_execution,
    aws_iam_role_policy.audittrail,
    aws_iam_role_policy.additional,
  ]
}
