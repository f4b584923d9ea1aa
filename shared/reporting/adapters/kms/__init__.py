"""Cloud KMS: wraps artifact data keys with the residency's key-encryption key."""
