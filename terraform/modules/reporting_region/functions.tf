# The four functions (Cloud Functions gen2, python311), each running as its own service account,
# reaching Cloud SQL's private IP through the VPC connector.
#   request        HTTP API (ingress var.request_ingress; IAM-public, the app verifies OIDC tokens)
#   render         Pub/Sub push (report_run.requested.v1)    ingress internal only
#   submit         Pub/Sub push (regulatory submissions)     ingress internal only
#   region_changed Pub/Sub push (tenant.region_changed.v1)   ingress internal only
# Entry points are the function names (functions/<name>/main.py).

resource "google_vpc_access_connector" "main" {
  project       = var.project_id
  name          = "reporting-${local.slug}"
  region        = var.region
  network       = var.network
  ip_cidr_range = var.vpc_connector_cidr
  min_instances = 2
  max_instances = 4

  depends_on = [google_project_service.api]
}

resource "google_cloudfunctions2_function" "fn" {
  for_each    = local.functions
  project     = var.project_id
  name        = local.function_name[each.key]
  location    = var.region
  description = "reporting ${local.slug}: ${local.service_accounts[each.key]}"
  labels      = local.labels

  build_config {
    runtime     = "python311"
    entry_point = each.key

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.bundle[each.key].name
      }
    }
  }

  service_config {
    service_account_email          = google_service_account.sa[each.key].email
    ingress_settings               = each.value.ingress
    available_memory               = each.value.memory
    timeout_seconds                = each.value.timeout
    min_instance_count             = 0
    max_instance_count             = var.function_max_instances[each.key]
    all_traffic_on_latest_revision = true
    vpc_connector                  = google_vpc_access_connector.main.id
    vpc_connector_egress_settings  = "PRIVATE_RANGES_ONLY"

    environment_variables = merge(
      local.common_env,
      { CLOUD_SQL_IAM_USER = local.sql_iam_user[each.key] },
      try(local.function_env[each.key], {}),
    )
  }

  depends_on = [
    google_project_iam_member.sql_client,
    google_project_iam_member.sql_instance_user,
    google_sql_user.iam,
  ]
}
