# Inputs of the IN root. Decisions about this residency (regions, retention, adapters) are set
# in terraform.tfvars; identifiers of the deployment (project, network, billing, image digest…) come
# from the deployment environment: TF_VAR_<name> in CI, or -var-file of the operator's own file.

variable "project_id" {
  type        = string
  description = "The IN residency's Google Cloud project."
}

variable "region" {
  type        = string
  description = "Primary region for IN (asia-south1, Mumbai)."
}

variable "secondary_region" {
  type        = string
  description = "Second Indian region (asia-south2, Delhi): backups, cross-region replica, Pub/Sub and Secret Manager storage."
  nullable    = true
}
