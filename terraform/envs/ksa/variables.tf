# Inputs of the KSA root. Decisions about this residency (regions, retention, adapters) are set
# in terraform.tfvars; identifiers of the deployment (project, network, billing, image digest…) come
# from the deployment environment: TF_VAR_<name> in CI, or -var-file of the operator's own file.

variable "project_id" {
  type        = string
  description = "The KSA residency's Google Cloud project."
}

variable "region" {
  type        = string
  description = "Primary region for KSA (me-central2, Dammam: the only Google Cloud region in Saudi Arabia)."
}

variable "secondary_region" {
  type        = string
  description = "null: Saudi Arabia has one region, so no data leaves it."
  nullable    = true
}
