terraform {
  # optional() object attributes with defaults and cross-variable validation need 1.9.
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 7.0"
    }
    # Service identities (the Cloud SQL, Pub/Sub and Secret Manager service agents) exist
    # only in the beta provider; nothing else here uses it.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = ">= 6.0, < 7.0"
    }
  }
}
