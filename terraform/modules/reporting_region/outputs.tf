output "function_urls" {
  description = "URL of each function (request is the HTTP API)."
  value       = { for k, f in google_cloudfunctions2_function.fn : k => f.service_config[0].uri }
}

output "request_audience" {
  description = "Audience of the scheduler's ID tokens, as REPORTING_OIDC_ISSUERS expects it."
  value       = local.request_audience
}

output "buckets" {
  description = "Bucket names by purpose."
  value = {
    operational = google_storage_bucket.operational.name
    regulatory  = google_storage_bucket.regulatory.name
    transfer    = google_storage_bucket.transfer.name
    sources     = google_storage_bucket.sources.name
  }
}

output "event_topics" {
  description = "Event topic names (from wiring.json)."
  value       = sort([for t in google_pubsub_topic.event : t.name])
}

output "dead_letter_topics" {
  description = "Dead-letter topic per consumer."
  value       = { for k, t in google_pubsub_topic.dead_letter : k => t.name }
}

output "service_accounts" {
  description = "Service account e-mail per function, job and caller."
  value       = { for k, sa in google_service_account.sa : k => sa.email }
}

output "sql_instance_connection_name" {
  description = "CLOUD_SQL_INSTANCE of this residency."
  value       = google_sql_database_instance.main.connection_name
}

output "jobs" {
  description = "Cloud Run job names (gcloud run jobs execute NAME --region REGION)."
  value       = { for k, j in google_cloud_run_v2_job.job : k => j.name }
}

output "artifact_kek" {
  description = "KMS key that wraps artifact data keys (REPORTING_ARTIFACT_KEK)."
  value       = google_kms_crypto_key.artifact_kek.id
}

output "ci_workload_identity_provider" {
  description = "Full provider name for the CI's auth step."
  value       = google_iam_workload_identity_pool_provider.ci.name
}
