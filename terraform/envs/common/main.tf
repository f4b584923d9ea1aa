# The root of one residency's stack (linked into envs/af, envs/in and envs/ksa; each root's residency.tf
# names its residency). State per residency: each root's backend.tf.
terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 7.0"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = ">= 6.0, < 7.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
  # Budgets and other billing-scoped calls are charged to this project's quota.
  user_project_override = true
  billing_project       = var.project_id
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
}

module "reporting" {
  source = "../../modules/reporting_region"

  project_id         = var.project_id
  residency          = local.residency
  region             = var.region
  secondary_region   = var.secondary_region
  network            = var.network
  vpc_connector_cidr = var.vpc_connector_cidr

  bundle_dir      = var.bundle_dir
  jobs_image      = var.jobs_image
  request_ingress = var.request_ingress

  oidc_user_issuers    = var.oidc_user_issuers
  tenant_service_url   = var.tenant_service_url
  external_topic_ids   = var.external_topic_ids
  warehouse_project_id = var.warehouse_project_id
  warehouse_dataset_id = var.warehouse_dataset_id

  regulatory_retention_days   = var.regulatory_retention_days
  regulatory_retention_locked = var.regulatory_retention_locked
  adapter_secrets             = var.adapter_secrets
  per_property_secret_prefixes = var.per_property_secret_prefixes
  zatca_endpoint              = var.zatca_endpoint
  inbound_transfer_writers    = var.inbound_transfer_writers

  notification_channels = var.notification_channels
  billing_account       = var.billing_account
  warehouse_budget      = var.warehouse_budget

  ci_repository  = var.ci_repository
  ci_environment = var.ci_environment
}
