# One service account per function, per job and per caller, each holding only what it needs.
# The grants below are the whole truth: tests/terraform/test_structure.py parses every *_iam_member
# and *_iam_binding here and compares them with the table in terraform/README.md (roles per
# service account). Resource-level grants (a bucket, a topic, a key, a secret) are preferred to
# project-level ones; the project-level ones are those Google offers no narrower scope for.

resource "google_service_account" "sa" {
  for_each     = local.service_accounts
  project      = var.project_id
  account_id   = "rpt-${replace(each.key, "_", "-")}"
  display_name = "reporting ${local.slug}: ${each.value}"

  depends_on = [google_project_service.api]
}

# ---- Cloud SQL: connect (client) and log in with IAM database auth (instanceUser) ----

resource "google_project_iam_member" "sql_client" {
  for_each = toset(local.sql_users)
  project  = var.project_id
  role     = "roles/cloudsql.client"
  member   = "serviceAccount:${google_service_account.sa[each.key].email}"
}

resource "google_project_iam_member" "sql_instance_user" {
  for_each = toset(local.sql_users)
  project  = var.project_id
  role     = "roles/cloudsql.instanceUser"
  member   = "serviceAccount:${google_service_account.sa[each.key].email}"
}

# ---- BigQuery: run query jobs here (billed to this project, capped per query) and read the dataset ----

resource "google_project_iam_member" "warehouse_job_user" {
  for_each = toset(local.warehouse_readers)
  project  = var.project_id
  role     = "roles/bigquery.jobUser"
  member   = "serviceAccount:${google_service_account.sa[each.key].email}"
}

# The historical import loads a pilot's history: load jobs into staging tables and one transaction
# replacing the property's range in the warehouse dataset.
resource "google_project_iam_member" "import_history_jobs" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${google_service_account.sa["import_history"].email}"
}

resource "google_bigquery_dataset_iam_member" "import_history_writer" {
  project    = var.warehouse_project_id
  dataset_id = var.warehouse_dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.sa["import_history"].email}"
}

resource "google_bigquery_dataset_iam_member" "warehouse_reader" {
  for_each   = toset(local.warehouse_readers)
  project    = var.warehouse_project_id
  dataset_id = var.warehouse_dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.sa[each.key].email}"
}

# ---- Buckets ----

# render writes every artifact (put_once: create, never overwrite); request streams downloads.
resource "google_storage_bucket_iam_member" "operational_render" {
  bucket = google_storage_bucket.operational.name
  role   = "roles/storage.objectCreator"
  member = "serviceAccount:${google_service_account.sa["render"].email}"
}

# The render's retry path reads an object a crashed attempt already stored (put_once, then stat).
resource "google_storage_bucket_iam_member" "operational_render_read" {
  bucket = google_storage_bucket.operational.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.sa["render"].email}"
}

resource "google_storage_bucket_iam_member" "regulatory_render_read" {
  bucket = google_storage_bucket.regulatory.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.sa["render"].email}"
}

# Regulatory objects are written with Locked object retention in the same request: that needs
# storage.objects.setRetention, which no predefined role narrower than objectAdmin carries.
resource "google_project_iam_custom_role" "object_retention_setter" {
  project     = var.project_id
  role_id     = "reportingObjectRetentionSetter"
  title       = "Reporting: set object retention"
  description = "Set an object's retention when writing it (regulatory artifacts, locked at write time)."
  permissions = ["storage.objects.setRetention"]
}

resource "google_storage_bucket_iam_member" "regulatory_render_retention" {
  bucket = google_storage_bucket.regulatory.name
  role   = google_project_iam_custom_role.object_retention_setter.id
  member = "serviceAccount:${google_service_account.sa["render"].email}"
}

# The request function signs V4 URLs for plain artifacts with its own identity (IAM signBlob).
resource "google_service_account_iam_member" "request_signs_urls" {
  service_account_id = google_service_account.sa["request"].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.sa["request"].email}"
}

resource "google_storage_bucket_iam_member" "operational_request" {
  bucket = google_storage_bucket.operational.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.sa["request"].email}"
}

resource "google_storage_bucket_iam_member" "regulatory_render" {
  bucket = google_storage_bucket.regulatory.name
  role   = "roles/storage.objectCreator"
  member = "serviceAccount:${google_service_account.sa["render"].email}"
}

resource "google_storage_bucket_iam_member" "regulatory_request" {
  bucket = google_storage_bucket.regulatory.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.sa["request"].email}"
}

# submit sends the rendered regulatory artifact to the authority.
resource "google_storage_bucket_iam_member" "regulatory_submit" {
  bucket = google_storage_bucket.regulatory.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.sa["submit"].email}"
}

# A residency move puts the source's regulatory artifacts under legal (temporary) hold: that is an
# object metadata update. objectUser also allows delete, which the bucket's retention policy refuses.
resource "google_storage_bucket_iam_member" "regulatory_residency_export" {
  bucket = google_storage_bucket.regulatory.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.sa["residency_export"].email}"
}

# The export copies the moving tenant's operational report files (read, then unsealed with the KEK) to
# the target's transfer bucket; the import stores them here (sealed again with this residency's KEK).
resource "google_storage_bucket_iam_member" "operational_residency_export" {
  bucket = google_storage_bucket.operational.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.sa["residency_export"].email}"
}

resource "google_storage_bucket_iam_member" "operational_residency_import" {
  bucket = google_storage_bucket.operational.name
  role   = "roles/storage.objectCreator"
  member = "serviceAccount:${google_service_account.sa["residency_import"].email}"
}

# The import reads the export that the source residency's export job wrote into our transfer bucket.
resource "google_storage_bucket_iam_member" "transfer_residency_import" {
  bucket = google_storage_bucket.transfer.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.sa["residency_import"].email}"
}

# The other residencies' export jobs write a moving tenant's CSV export here.
resource "google_storage_bucket_iam_member" "transfer_inbound" {
  for_each = toset(var.inbound_transfer_writers)
  bucket   = google_storage_bucket.transfer.name
  role     = "roles/storage.objectCreator"
  member   = "serviceAccount:${each.value}"
}

# The historical import reads the pilot tenants' files dropped into the transfer bucket.
resource "google_storage_bucket_iam_member" "transfer_import_history" {
  bucket = google_storage_bucket.transfer.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.sa["import_history"].email}"
}

# ---- Secrets: the submit function reads exactly the adapter credentials ----

resource "google_secret_manager_secret_iam_member" "adapter_submit" {
  for_each  = google_secret_manager_secret.adapter
  project   = var.project_id
  secret_id = each.value.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.sa["submit"].email}"
}

# Per-property credentials (a ZATCA key, CSID and API secret per hotel) are created when a hotel
# is onboarded, without a Terraform change; the grant covers exactly the names under each prefix.
resource "google_project_iam_member" "per_property_secrets_submit" {
  for_each = toset(var.per_property_secret_prefixes)
  project  = var.project_id
  role     = "roles/secretmanager.secretAccessor"
  member   = "serviceAccount:${google_service_account.sa["submit"].email}"

  condition {
    title      = "secrets ${each.value}*"
    expression = "resource.name.startsWith(\"projects/${data.google_project.this.number}/secrets/${each.value}\")"
  }
}

# ---- Invocation ----

# The API is public at the IAM layer: users arrive with the platform's ID tokens, which the app
# verifies itself (issuer, signature, audience); Cloud Run's IAM check only knows Google identities.
# The network path is narrowed by var.request_ingress.
resource "google_cloud_run_v2_service_iam_member" "request_public" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn["request"].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Pub/Sub pushes to the consumers with an ID token of the push identity.
resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  for_each = toset(local.consumers)
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.sa["push_invoker"].email}"
}

# Cloud Scheduler starts the sweeper and the watchdogs through the Cloud Run Admin API.
resource "google_cloud_run_v2_job_iam_member" "scheduler_runs" {
  for_each = local.scheduled_jobs
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.job[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.sa["scheduler"].email}"
}

# CI runs the migrate job after each apply (phase 0: schema before traffic).
resource "google_cloud_run_v2_job_iam_member" "deployer_runs_migrate" {
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.job["migrate"].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.sa["deployer"].email}"
}
