# CMEK. One key ring per region the residency stores data in; keys rotate at most every 90 days
# and can never be destroyed by Terraform (destroying a key destroys the data it wraps).
#
# - sql:          Cloud SQL (primary and, where there is a secondary region, the replica there)
# - secrets:      Secret Manager replicas (one per region)
# - storage:      the buckets (default_kms_key_name)
# - pubsub:       topics
# - artifact-kek: wraps the per-artifact data keys of envelope encryption (plan §8, phase 4);
#                 the app calls KMS encrypt (render) / decrypt (request, the download route)

resource "google_kms_key_ring" "region" {
  for_each = toset(local.regions)
  project  = var.project_id
  name     = "reporting-${local.slug}"
  location = each.value

  depends_on = [google_project_service.api]
}

resource "google_kms_crypto_key" "sql" {
  for_each        = google_kms_key_ring.region
  name            = "sql"
  key_ring        = each.value.id
  purpose         = "ENCRYPT_DECRYPT"
  rotation_period = var.kms_rotation_period
  labels          = local.labels

  version_template {
    algorithm        = "GOOGLE_SYMMETRIC_ENCRYPTION"
    protection_level = var.kms_protection_level
  }

  lifecycle {
    prevent_destroy = true
  }
}

resource "google_kms_crypto_key" "secrets" {
  for_each        = google_kms_key_ring.region
  name            = "secrets"
  key_ring        = each.value.id
  purpose         = "ENCRYPT_DECRYPT"
  rotation_period = var.kms_rotation_period
  labels          = local.labels

  version_template {
    algorithm        = "GOOGLE_SYMMETRIC_ENCRYPTION"
    protection_level = var.kms_protection_level
  }

  lifecycle {
    prevent_destroy = true
  }
}

resource "google_kms_crypto_key" "storage" {
  name            = "storage"
  key_ring        = google_kms_key_ring.region[var.region].id
  purpose         = "ENCRYPT_DECRYPT"
  rotation_period = var.kms_rotation_period
  labels          = local.labels

  version_template {
    algorithm        = "GOOGLE_SYMMETRIC_ENCRYPTION"
    protection_level = var.kms_protection_level
  }

  lifecycle {
    prevent_destroy = true
  }
}

resource "google_kms_crypto_key" "pubsub" {
  name            = "pubsub"
  key_ring        = google_kms_key_ring.region[var.region].id
  purpose         = "ENCRYPT_DECRYPT"
  rotation_period = var.kms_rotation_period
  labels          = local.labels

  version_template {
    algorithm        = "GOOGLE_SYMMETRIC_ENCRYPTION"
    protection_level = var.kms_protection_level
  }

  lifecycle {
    prevent_destroy = true
  }
}

resource "google_kms_crypto_key" "artifact_kek" {
  name            = "artifact-kek"
  key_ring        = google_kms_key_ring.region[var.region].id
  purpose         = "ENCRYPT_DECRYPT"
  rotation_period = var.kms_rotation_period
  labels          = local.labels

  version_template {
    algorithm        = "GOOGLE_SYMMETRIC_ENCRYPTION"
    protection_level = var.kms_protection_level
  }

  lifecycle {
    prevent_destroy = true
  }
}

# ---- who may use which key ----

resource "google_kms_crypto_key_iam_member" "sql_agent" {
  for_each      = google_kms_crypto_key.sql
  crypto_key_id = each.value.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${google_project_service_identity.agent["sqladmin.googleapis.com"].email}"
}

resource "google_kms_crypto_key_iam_member" "secrets_agent" {
  for_each      = google_kms_crypto_key.secrets
  crypto_key_id = each.value.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${google_project_service_identity.agent["secretmanager.googleapis.com"].email}"
}

resource "google_kms_crypto_key_iam_member" "storage_agent" {
  crypto_key_id = google_kms_crypto_key.storage.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${data.google_storage_project_service_account.agent.email_address}"
}

resource "google_kms_crypto_key_iam_member" "pubsub_agent" {
  crypto_key_id = google_kms_crypto_key.pubsub.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${google_project_service_identity.agent["pubsub.googleapis.com"].email}"
}

# Envelope encryption: render wraps each artifact's data key, request unwraps it to stream a download.
resource "google_kms_crypto_key_iam_member" "artifact_kek_render" {
  crypto_key_id = google_kms_crypto_key.artifact_kek.id
  role          = "roles/cloudkms.cryptoKeyEncrypter"
  member        = "serviceAccount:${google_service_account.sa["render"].email}"
}

resource "google_kms_crypto_key_iam_member" "artifact_kek_request" {
  crypto_key_id = google_kms_crypto_key.artifact_kek.id
  role          = "roles/cloudkms.cryptoKeyDecrypter"
  member        = "serviceAccount:${google_service_account.sa["request"].email}"
}

# Residency moves: the export unwraps the data keys of the files it copies out, the import wraps new ones.
resource "google_kms_crypto_key_iam_member" "artifact_kek_residency_export" {
  crypto_key_id = google_kms_crypto_key.artifact_kek.id
  role          = "roles/cloudkms.cryptoKeyDecrypter"
  member        = "serviceAccount:${google_service_account.sa["residency_export"].email}"
}

resource "google_kms_crypto_key_iam_member" "artifact_kek_residency_import" {
  crypto_key_id = google_kms_crypto_key.artifact_kek.id
  role          = "roles/cloudkms.cryptoKeyEncrypter"
  member        = "serviceAccount:${google_service_account.sa["residency_import"].email}"
}
