# State per residency: its own bucket (in the AF project, inside the residency) and its own prefix.
# The bucket is given at init, so no deployment identifier is committed:
#   terraform init -backend-config="bucket=<af state bucket>"
terraform {
  backend "gcs" {
    prefix = "reporting-service/af"
  }
}
