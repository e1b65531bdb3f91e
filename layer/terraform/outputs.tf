output "layer_version_arn" {
  description = "ARN of the layer version (ends with its version number): attach it to other functions."
  value       = aws_lambda_layer_version.audittrail.arn
}

output "layer_arn" {
  description = "ARN of the layer, without the version."
  value       = aws_lambda_layer_version.audittrail.layer_arn
}

output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.example.function_name
}

output "function_arn" {
  description = "ARN of the function."
  value       = aws_lambda_function.example.arn
}

output "role_name" {
  description = "Name of the function's role, to attach further policies to."
  value       = aws_iam_role.function.name
}

output "role_arn" {
  description = "ARN of the function's role (for an OpenSearch access policy, say)."
  value       = aws_iam_role.function.arn
}
