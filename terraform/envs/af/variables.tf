# Inputs of the AF root. Decisions about this residency (regions, retention, adapters) are set
# in terraform.tfvars; identifiers of the deployment (project, network, billing, image digest…) come
# from the deployment environment: TF_VAR_<name> in CI, or -var-file of the operator's own file.

variable "project_id" {
  type        = string
  description = "The AF residency's Google Cloud project."
}

variable "region" {
  type        = string
  description = "Primary region for AF. Google Cloud has no region in Afghanistan: REQUIRED, NO DEFAULT, and not set in terraform.tfvars until the DEPLOYMENT_TOPOLOGY decision records one (terraform/README.md, hosting regions)."
}

variable "secondary_region" {
  type        = string
  description = "Second region for AF data; null unless the DEPLOYMENT_TOPOLOGY decision names one."
  nullable    = true
}
