"""Deployable bundles: each function's and job's archive, as the Terraform module uploads them."""
