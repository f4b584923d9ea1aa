# Inputs every residency root shares (linked into envs/af, envs/in and envs/ksa): identifiers of the
# deployment, given as TF_VAR_<name> in CI or in the operator's own -var-file, and the residency's
# decisions set in each root's terraform.tfvars. Root-specific inputs live in each root's variables.tf.
variable "network" {
  type        = string
  description = "VPC network id with private services access for Cloud SQL (projects/P/global/networks/N)."
}

variable "vpc_connector_cidr" {
  type        = string
  description = "Unused /28 in the network for the Serverless VPC Access connector."
}

variable "bundle_dir" {
  type        = string
  description = "Directory of the function bundles built by `make bundle`, relative to this root."
  default     = "../../../build/bundles"
}

variable "jobs_image" {
  type        = string
  description = "Jobs container image pinned by digest, built by CI from the jobs bundle."
}

variable "request_ingress" {
  type        = string
  description = "Ingress of the HTTP API function: ALLOW_INTERNAL_AND_GCLB (behind the platform load balancer) or ALLOW_ALL."
  default     = "ALLOW_INTERNAL_AND_GCLB"
}

variable "oidc_user_issuers" {
  type = list(object({
    issuer    = string
    jwks_uri  = string
    audiences = list(string)
  }))
  description = "The platform identity provider(s) whose user ID tokens the API accepts."
}

variable "tenant_service_url" {
  type        = string
  description = "tenant-service base URL in this residency (owner of feature.reporting_v1)."
}

variable "warehouse_project_id" {
  type        = string
  description = "Project of this residency's BigQuery warehouse."
}

variable "warehouse_dataset_id" {
  type        = string
  description = "Curated BigQuery dataset of the warehouse."
}

variable "regulatory_retention_days" {
  type        = number
  description = "Retention period of the regulatory bucket, in days (the residency's regulatory class)."
}

variable "regulatory_retention_locked" {
  type        = bool
  description = "Lock the regulatory bucket's retention policy (irreversible)."
}

variable "adapter_secrets" {
  type        = list(string)
  description = "Secret containers of the regulatory adapters switched on in this residency."
}

variable "per_property_secret_prefixes" {
  type        = list(string)
  description = "Prefixes of the per-property secrets the submit function may read (KSA: zatca-)."
  default     = []
}

variable "zatca_endpoint" {
  type        = string
  description = "ZATCA's e-invoicing API base (KSA only)."
  default     = null
}

variable "inbound_transfer_writers" {
  type        = list(string)
  description = "Residency-export service accounts of the other residencies allowed to write into this transfer bucket."
  default     = []
}

variable "notification_channels" {
  type        = list(string)
  description = "Monitoring notification channel ids the alerts and the budget page."
}

variable "billing_account" {
  type        = string
  description = "Billing account id carrying the warehouse budget."
}

variable "warehouse_budget" {
  type = object({
    amount        = number
    currency_code = string
  })
  description = "Monthly BigQuery budget of this residency's project."
}

variable "ci_repository" {
  type        = string
  description = "owner/name of the repository whose CI deploys this residency."
}

variable "ci_environment" {
  type        = string
  description = "The CI deployment environment allowed to deploy this residency (sub = repo:<ci_repository>:environment:<ci_environment>)."
}

variable "external_topic_ids" {
  type        = map(string)
  description = "Other services' topic ids this residency subscribes to, keyed as wiring.json's external_topics names them (tenant-service.tenant.region_changed.v1); set through TF_VAR_external_topic_ids."
}
