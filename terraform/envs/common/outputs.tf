output "function_urls" {
  description = "URL of each function."
  value       = module.reporting.function_urls
}

output "buckets" {
  description = "Bucket names by purpose."
  value       = module.reporting.buckets
}

output "event_topics" {
  description = "Event topic names."
  value       = module.reporting.event_topics
}

output "service_accounts" {
  description = "Service account e-mail per function, job and caller."
  value       = module.reporting.service_accounts
}

output "jobs" {
  description = "Cloud Run job names."
  value       = module.reporting.jobs
}

output "ci_workload_identity_provider" {
  description = "Workload identity provider for the CI auth step."
  value       = module.reporting.ci_workload_identity_provider
}
