# Workload identity federation for CI deploys: the CI system's OIDC tokens, restricted to one
# repository's jobs in one protected deployment environment, may impersonate the deployer
# service account. No service-account key exists anywhere.
#
# The deployer's own project roles (what `terraform apply` of this stack needs) are granted by the
# platform's project bootstrap, not here: a stack cannot safely grant its own deployer.

resource "google_iam_workload_identity_pool" "ci" {
  project                   = var.project_id
  workload_identity_pool_id = "reporting-ci"
  display_name              = "reporting CI"
  description               = "CI deploys of reporting-service (${var.residency})"

  depends_on = [google_project_service.api]
}

resource "google_iam_workload_identity_pool_provider" "ci" {
  # checkov:skip=CKV_GCP_125: sub is pinned to repo:<ci_repository>:environment:<ci_environment>, both validated (owner/name, no wildcard); checkov cannot see values the deployment environment supplies
  project                            = var.project_id
  workload_identity_pool_id          = google_iam_workload_identity_pool.ci.workload_identity_pool_id
  workload_identity_pool_provider_id = "ci-oidc"
  display_name                       = "CI OIDC"
  attribute_mapping = {
    "google.subject"       = "assertion.sub"
    "attribute.repository" = "assertion.repository"
    "attribute.ref"        = "assertion.ref"
  }
  # Exactly one repository's jobs in one protected deployment environment (GitHub's `sub` claim).
  attribute_condition = "assertion.sub == 'repo:${var.ci_repository}:environment:${var.ci_environment}'"

  oidc {
    issuer_uri = var.ci_oidc_issuer
  }
}

resource "google_service_account_iam_member" "ci_deployer" {
  service_account_id = google_service_account.sa["deployer"].name
  role               = "roles/iam.workloadIdentityUser"
  # Every token the provider accepts comes from that repository's deployment environment (attribute_condition).
  member = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.ci.name}/attribute.repository/${var.ci_repository}"
}
