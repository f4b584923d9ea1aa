# APIs the stack uses, and the Google service agents that encrypt with our keys.

resource "google_project_service" "api" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "billingbudgets.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudkms.googleapis.com",
    "cloudscheduler.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
    "sts.googleapis.com",
    "vpcaccess.googleapis.com",
  ])
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# Service agents are created lazily by Google; these make them exist before a key grant names them.
resource "google_project_service_identity" "agent" {
  provider = google-beta
  for_each = toset(["sqladmin.googleapis.com", "pubsub.googleapis.com", "secretmanager.googleapis.com"])
  project  = var.project_id
  service  = each.value

  depends_on = [google_project_service.api]
}

data "google_storage_project_service_account" "agent" {
  project = var.project_id

  depends_on = [google_project_service.api]
}

# Data Access audit logs for Cloud Storage: who read or wrote which artifact, regulatory ones included.
# This is the access log of the buckets (instead of legacy usage-log buckets).
resource "google_project_iam_audit_config" "storage" {
  project = var.project_id
  service = "storage.googleapis.com"

  audit_log_config {
    log_type = "DATA_READ"
  }
  audit_log_config {
    log_type = "DATA_WRITE"
  }
}
