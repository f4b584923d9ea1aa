# Cloud Scheduler, in the residency's primary region.
#   schedules-tick        every minute: POST the API's internal tick with an ID token (OIDC) of the
#                         scheduler identity; the app trusts exactly that e-mail (REPORTING_OIDC_ISSUERS).
#                         Tenants' schedules, including the hourly regulatory runs that feed ZATCA and
#                         Form C (SPEC §8), are rows in the database fired by this tick: no per-schedule job.
#   outbox sweeper        every 5 minutes  ┐ started through the Cloud Run Admin API (jobs.run) with an
#   watchdog submissions  every 5 minutes  │ OAuth token of the scheduler identity, which holds
#   watchdog runs         every 5 minutes  ┘ run.invoker on exactly these jobs.

resource "google_cloud_scheduler_job" "schedules_tick" {
  project          = var.project_id
  region           = var.region
  name             = "reporting-schedules-tick"
  description      = "Fire due schedules (POST /api/v1/reports/internal/schedules:tick)"
  schedule         = "* * * * *"
  time_zone        = "Etc/UTC"
  attempt_deadline = "120s"

  # The next tick comes a minute later and the tick is safe to overlap: no retries.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${google_cloudfunctions2_function.fn["request"].service_config[0].uri}/api/v1/reports/internal/schedules:tick"

    oidc_token {
      service_account_email = google_service_account.sa["scheduler"].email
      audience              = local.request_audience
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_cloud_scheduler_job" "run_job" {
  for_each         = local.scheduled_jobs
  project          = var.project_id
  region           = var.region
  name             = "reporting-${replace(each.key, "_", "-")}"
  description      = "Start the Cloud Run job reporting-${replace(each.key, "_", "-")}"
  schedule         = each.value
  time_zone        = "Etc/UTC"
  attempt_deadline = "60s"

  retry_config {
    retry_count = 1
  }

  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${google_cloud_run_v2_job.job[each.key].name}:run"

    oauth_token {
      service_account_email = google_service_account.sa["scheduler"].email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [google_project_service.api]
}
