# KSA: decisions about this residency. Identifiers (project_id, network, …) come from the deployment
# environment (TF_VAR_*), see terraform/README.md.

region           = "me-central2" # Dammam: the only Google Cloud region in Saudi Arabia
secondary_region = null          # so buckets are regional, not the plan's multi-region default

# ZATCA simplified invoices: 6 years (assumption, SPEC §7).
regulatory_retention_days = 2192
# Irreversible: set true in production after the compliance sign-off of the period above.
regulatory_retention_locked = false

adapter_secrets = ["zatca-signing-keys", "zatca-csid"]

# The protected CI deployment environment that may deploy this residency.
ci_environment = "production-ksa"
