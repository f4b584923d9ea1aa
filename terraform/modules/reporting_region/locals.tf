data "google_project" "this" {
  project_id = var.project_id
}

locals {
  slug = lower(var.residency)

  # Every region this residency may store data in: the primary, and the secondary where one exists.
  regions = var.secondary_region == null ? [var.region] : [var.region, var.secondary_region]

  labels = merge(var.labels, { residency = local.slug, service = "reporting" })

  # ---- Pub/Sub, generated from the repo's single wiring source ----
  # wiring.json is `reporting events wiring` (shared/reporting/events/wiring.py) committed verbatim;
  # tests/terraform/test_structure.py fails when it drifts from the code.
  wiring             = jsondecode(file("${path.module}/wiring.json"))
  event_topics       = { for t in local.wiring.topics : t.topic => t }
  subscriptions      = { for s in flatten([for t in local.wiring.topics : t.subscriptions]) : s.name => s }
  dead_letter_topics = { for d in local.wiring.dead_letter_topics : d.consumer => d }
  # Other services' topics we subscribe to (tenant.region_changed.v1): never created here.
  external_subscriptions = { for s in flatten([for t in local.wiring.external_topics : t.subscriptions]) : s.name => s }

  # ---- identities: one service account per function, per job, and per caller ----
  functions = {
    request        = { memory = "512Mi", timeout = 60, ingress = var.request_ingress }
    render         = { memory = "1Gi", timeout = 540, ingress = "ALLOW_INTERNAL_ONLY" }
    submit         = { memory = "512Mi", timeout = 300, ingress = "ALLOW_INTERNAL_ONLY" }
    region_changed = { memory = "512Mi", timeout = 300, ingress = "ALLOW_INTERNAL_ONLY" }
  }

  # Cloud Run jobs: `reporting <args>` in var.jobs_image, one service account each (same key).
  jobs = {
    outbox_sweeper       = { args = ["outbox", "sweep"], service_account = "outbox_sweeper", task_count = 1, timeout = "600s", max_retries = 0 }
    migrate              = { args = ["db", "migrate"], service_account = "migrate", task_count = 1, timeout = "1800s", max_retries = 0 }
    backfill             = { args = ["backfill"], service_account = "backfill", task_count = 4, timeout = "3600s", max_retries = 3 }
    import_history       = { args = ["import-history"], service_account = "import_history", task_count = 1, timeout = "3600s", max_retries = 3 }
    schema_backfill      = { args = ["schema-backfill"], service_account = "schema_backfill", task_count = 1, timeout = "3600s", max_retries = 3 }
    residency_export     = { args = ["residency", "export"], service_account = "residency_export", task_count = 1, timeout = "3600s", max_retries = 1 }
    residency_import     = { args = ["residency", "import"], service_account = "residency_import", task_count = 1, timeout = "3600s", max_retries = 1 }
    watchdog_submissions = { args = ["watchdog", "submissions"], service_account = "watchdog_submissions", task_count = 1, timeout = "240s", max_retries = 0 }
    watchdog_runs        = { args = ["watchdog", "runs"], service_account = "watchdog_runs", task_count = 1, timeout = "240s", max_retries = 0 }
  }

  service_accounts = {
    request              = "HTTP API function"
    render               = "render function (Pub/Sub push)"
    submit               = "regulatory submit function (Pub/Sub push)"
    region_changed       = "tenant.region_changed consumer function (Pub/Sub push)"
    outbox_sweeper       = "outbox sweeper job"
    migrate              = "schema migration job"
    backfill             = "report backfill job"
    import_history       = "historical import job"
    schema_backfill      = "schema backfill job"
    residency_export     = "residency move: export job"
    residency_import     = "residency move: import job"
    watchdog_submissions = "submission cutoff watchdog job"
    watchdog_runs        = "stuck-run watchdog job"
    scheduler            = "Cloud Scheduler caller (OIDC to the API, OAuth to the jobs API)"
    push_invoker         = "Pub/Sub push subscriptions' OIDC identity"
    deployer             = "CI deployer (workload identity federation)"
  }

  # Who connects to Cloud SQL (IAM database auth, each as its own IAM database user).
  sql_users = ["request", "render", "submit", "region_changed", "outbox_sweeper", "migrate", "backfill",
    "import_history", "schema_backfill", "residency_export", "residency_import", "watchdog_submissions", "watchdog_runs"]

  # Who queries the warehouse.
  warehouse_readers = ["render", "submit", "backfill"]

  # Jobs Cloud Scheduler starts; the others are started by hand or by CI (migrate).
  scheduled_jobs = {
    outbox_sweeper       = "*/5 * * * *"
    watchdog_submissions = "*/5 * * * *"
    watchdog_runs        = "*/5 * * * *"
  }

  consumers = ["render", "submit", "region_changed"]

  # Cloud SQL's IAM user convention: the service account e-mail without ".gserviceaccount.com".
  sql_iam_user = { for k in local.sql_users : k => trimsuffix(google_service_account.sa[k].email, ".gserviceaccount.com") }

  function_name = { for k, _ in local.functions : k => "reporting-${replace(k, "_", "-")}" }

  # The audience the scheduler's ID token carries and the request function expects. It is the
  # function's deterministic run.app URL, computed (not read from the function) so that the
  # function's own environment can name it without a dependency cycle.
  request_audience = "https://${local.function_name["request"]}-${data.google_project.this.number}.${var.region}.run.app"

  # REPORTING_OIDC_ISSUERS: the platform's user issuers, plus Google for the scheduler's service account.
  oidc_issuers_json = format("[%s]", join(",", concat(
    [for i in var.oidc_user_issuers : jsonencode({ issuer = i.issuer, jwks_uri = i.jwks_uri, audiences = i.audiences, kind = "user" })],
    [jsonencode({
      issuer         = "https://accounts.google.com"
      jwks_uri       = "https://www.googleapis.com/oauth2/v3/certs"
      audiences      = [local.request_audience]
      kind           = "scheduler"
      allowed_emails = [google_service_account.sa["scheduler"].email]
    })],
  )))

  # Settings every function and job reads (shared/reporting/config.py); CLOUD_SQL_IAM_USER is per identity.
  common_env = {
    REPORTING_RESIDENCY             = var.residency
    REPORTING_REGION                = var.region
    GOOGLE_CLOUD_PROJECT            = var.project_id
    CLOUD_SQL_INSTANCE              = google_sql_database_instance.main.connection_name
    CLOUD_SQL_DATABASE              = google_sql_database.reporting.name
    REPORTING_EVENT_BUS             = "pubsub"
    REPORTING_PUBSUB_PROJECT        = var.project_id
    REPORTING_ARTIFACT_STORE        = "gcs"
    REPORTING_WAREHOUSE             = "bigquery"
    REPORTING_BIGQUERY_DATASET      = "${var.warehouse_project_id}.${var.warehouse_dataset_id}"
    REPORTING_MAX_BYTES_BILLED      = tostring(var.max_bytes_billed)
    REPORTING_TENANT_SERVICE_URL    = var.tenant_service_url
    REPORTING_RATE_LIMIT_PER_MINUTE = tostring(var.rate_limit_per_minute)
    REPORTING_MAX_RUNS_IN_FLIGHT    = tostring(var.max_runs_in_flight)
    REPORTING_SLO_TARGET            = tostring(var.slo_target)
    REPORTING_OPERATIONAL_BUCKET    = google_storage_bucket.operational.name
    REPORTING_REGULATORY_BUCKET     = google_storage_bucket.regulatory.name
    REPORTING_TRANSFER_BUCKET       = google_storage_bucket.transfer.name
    REPORTING_ARTIFACT_KEK          = google_kms_crypto_key.artifact_kek.id
  }

  function_env = {
    request = { REPORTING_OIDC_ISSUERS = local.oidc_issuers_json }
    # ZATCA: the gateway, and where each property's key, CSID and API secret live (docs/regulatory/zatca.md).
    submit = var.zatca_endpoint == null ? {} : {
      REPORTING_ZATCA_ENDPOINT = var.zatca_endpoint
      REPORTING_ZATCA_SECRETS  = "projects/${var.project_id}/secrets/zatca-{property_id}-{secret}/versions/latest"
    }
  }

  job_env = {
    # The migrate job connects as its own IAM user, SET ROLE reporting_owner, and grants
    # reporting_app to the runtime identities' IAM users (terraform/README.md, database roles).
    migrate = {
      REPORTING_MIGRATE_ROLE  = "reporting_owner"
      REPORTING_APP_IAM_USERS = jsonencode([for k in local.sql_users : local.sql_iam_user[k] if k != "migrate"])
    }
  }
}
