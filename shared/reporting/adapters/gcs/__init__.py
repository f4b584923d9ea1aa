"""Cloud Storage: the artifact store of the cloud (one operational and one regulatory bucket per residency)."""
