# State per residency: its own bucket (in the IN project, inside the residency) and its own prefix.
# The bucket is given at init, so no deployment identifier is committed:
#   terraform init -backend-config="bucket=<in state bucket>"
terraform {
  backend "gcs" {
    prefix = "reporting-service/in"
  }
}
