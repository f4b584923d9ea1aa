# AF: decisions about this residency. Identifiers (project_id, network, …) come from the deployment
# environment (TF_VAR_*), see terraform/README.md.

# region: deliberately NOT set. Google Cloud has no region in Afghanistan; where AF data is hosted is
# the DEPLOYMENT_TOPOLOGY decision (legal basis for hosting outside the country, latency, the
# regulator's view). Candidates, nearest first, once decided pass it as TF_VAR_region or set it here:
#   region = "me-central1"   # Doha, Qatar
#   region = "me-central2"   # Dammam, Saudi Arabia
#   region = "asia-south1"   # Mumbai, India
#   region = "me-west1"      # Tel Aviv, Israel
#   region = "europe-west3"  # Frankfurt, Germany
secondary_region = null

# AF police guest register: 5 years (assumption, SPEC §7).
regulatory_retention_days = 1827
# Irreversible: set true in production after the compliance sign-off of the period above.
regulatory_retention_locked = false

adapter_secrets = ["af-police-credentials"]

# The protected CI deployment environment that may deploy this residency.
ci_environment = "production-af"
