# KSA: decisions about this residency. Identifiers (project_id, network, …) come from the deployment
# environment (TF_VAR_*), see terraform/README.md.

region           = "me-central2" # Dammam: the only Google Cloud region in Saudi Arabia
secondary_region = null          # so buckets are regional, not the plan's multi-region default

# ZATCA simplified invoices: 6 years (assumption, SPEC §7).
regulatory_retention_days = 2192
# Irreversible: set true in production after the compliance sign-off of the period above.
regulatory_retention_locked = false

adapter_secrets = []
# Each hotel is its own e-invoicing unit: its key, CSID and API secret are created at onboarding
# as zatca-<property>-private-key | -csid | -api-secret (docs/regulatory/zatca.md).
per_property_secret_prefixes = ["zatca-"]
# ZATCA's simulation gateway until the go-live sign-off; production is .../e-invoicing/core.
zatca_endpoint = "https://gw-fatoora.zatca.gov.sa/e-invoicing/simulation"

# The protected CI deployment environment that may deploy this residency.
ci_environment = "production-ksa"
