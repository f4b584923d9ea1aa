# Secret containers for the regulatory adapters' credentials (AF police, ZATCA signing keys and CSID,
# Form C). Values are added out of band (`gcloud secrets versions add`), never through Terraform, so
# they never enter its state. Replicas stay in the residency's regions, each under its region's key.
# Per-property material (a ZATCA key, CSID and API secret per hotel) is created at onboarding under a
# prefix instead (var.per_property_secret_prefixes, granted by name in iam.tf).

resource "google_secret_manager_secret" "adapter" {
  for_each  = toset(var.adapter_secrets)
  project   = var.project_id
  secret_id = each.value
  labels    = local.labels

  replication {
    user_managed {
      dynamic "replicas" {
        for_each = local.regions
        content {
          location = replicas.value
          customer_managed_encryption {
            kms_key_name = google_kms_crypto_key.secrets[replicas.value].id
          }
        }
      }
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.secrets_agent]
}
