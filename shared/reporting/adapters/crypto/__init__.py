"""Envelope encryption of artifacts: the sealed format, the sealing store decorator, the local key file."""
