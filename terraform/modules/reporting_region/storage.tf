# Buckets, all regional in the residency's primary region, CMEK, uniform access, never public.
#
# The app names every artifact `<retention class>/<tenant>/<run>/<file>` (SPEC §7), so lifecycle
# rules match on the retention class as a prefix:
#   operational bucket: operational/…           deleted after var.operational_retention_days
#   regulatory bucket:  regulatory-<adapter>/…  kept by the bucket retention policy (locked in
#                                               production), never deleted by a lifecycle rule
#   transfer bucket:    residency-move exports, deleted after var.transfer_retention_days
#
# Access logging: the Data Access audit logs of storage.googleapis.com (apis.tf) record every read
# and write, which is why no bucket has a legacy usage-log bucket (CKV_GCP_62 is skipped below).

resource "google_storage_bucket" "operational" {
  # checkov:skip=CKV_GCP_62: object access is recorded by Cloud Audit Logs (DATA_READ/DATA_WRITE, apis.tf), not legacy usage logs
  project                     = var.project_id
  name                        = "${var.project_id}-reporting-operational"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  versioning {
    enabled = true
  }

  encryption {
    default_kms_key_name = google_kms_crypto_key.storage.id
  }

  lifecycle_rule {
    condition {
      age            = var.operational_retention_days
      matches_prefix = ["operational/"]
    }
    action {
      type = "Delete"
    }
  }

  # put_once never overwrites, so a noncurrent version only appears after a delete: keep it a week.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.storage_agent]
}

resource "google_storage_bucket" "regulatory" {
  # checkov:skip=CKV_GCP_62: object access is recorded by Cloud Audit Logs (DATA_READ/DATA_WRITE, apis.tf), not legacy usage logs
  # checkov:skip=CKV_GCP_78: Cloud Storage refuses Object Versioning on a bucket with a retention policy; the retention policy is the stronger guarantee (no overwrite, no delete until expiry)
  project                     = var.project_id
  name                        = "${var.project_id}-reporting-regulatory"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  # Per-object retention on top of the bucket's (a longer class, a legal hold's extension).
  enable_object_retention = true
  labels                  = local.labels

  retention_policy {
    is_locked        = var.regulatory_retention_locked
    retention_period = var.regulatory_retention_days * 86400
  }

  versioning {
    enabled = false
  }

  encryption {
    default_kms_key_name = google_kms_crypto_key.storage.id
  }

  depends_on = [google_kms_crypto_key_iam_member.storage_agent]
}

resource "google_storage_bucket" "transfer" {
  # checkov:skip=CKV_GCP_62: object access is recorded by Cloud Audit Logs (DATA_READ/DATA_WRITE, apis.tf), not legacy usage logs
  project                     = var.project_id
  name                        = "${var.project_id}-reporting-transfer"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  versioning {
    enabled = true
  }

  encryption {
    default_kms_key_name = google_kms_crypto_key.storage.id
  }

  lifecycle_rule {
    condition {
      age = var.transfer_retention_days
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 1
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.storage_agent]
}

# Function source bundles (`make bundle`), named by content hash so a new bundle redeploys its function
# and the previous objects remain for a rollback.
resource "google_storage_bucket" "sources" {
  # checkov:skip=CKV_GCP_62: object access is recorded by Cloud Audit Logs (DATA_READ/DATA_WRITE, apis.tf), not legacy usage logs
  project                     = var.project_id
  name                        = "${var.project_id}-reporting-sources"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  versioning {
    enabled = true
  }

  encryption {
    default_kms_key_name = google_kms_crypto_key.storage.id
  }

  depends_on = [google_kms_crypto_key_iam_member.storage_agent]
}

resource "google_storage_bucket_object" "bundle" {
  for_each = local.functions
  bucket   = google_storage_bucket.sources.name
  name     = "functions/${each.key}-${filemd5("${var.bundle_dir}/${each.key}.zip")}.zip"
  source   = "${var.bundle_dir}/${each.key}.zip"
}
