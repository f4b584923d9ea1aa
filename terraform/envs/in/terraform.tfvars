# IN: decisions about this residency. Identifiers (project_id, network, …) come from the deployment
# environment (TF_VAR_*), see terraform/README.md.

region           = "asia-south1" # Mumbai
secondary_region = "asia-south2" # Delhi: backups, cross-region replica (failover), Pub/Sub + secrets

# Form C (FRRO): 3 years (assumption, SPEC §7).
regulatory_retention_days = 1096
# Irreversible: set true in production after the compliance sign-off of the period above.
regulatory_retention_locked = false

adapter_secrets = ["formc-credentials"]

# The protected CI deployment environment that may deploy this residency.
ci_environment = "production-in"
