"""A service-account identity with a key generated here, so V4 URLs are really signed (offline)."""
from __future__ import annotations

from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.oauth2 import service_account

EMAIL = "reporting-request@melmastoon-test.iam.gserviceaccount.com"


@lru_cache(maxsize=1)
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def signing_credentials() -> service_account.Credentials:
    pem = private_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()
    return service_account.Credentials.from_service_account_info({
        "type": "service_account", "client_email": EMAIL, "private_key": pem, "private_key_id": "test-key",
        "token_uri": "https://oauth2.googleapis.com/token", "project_id": "melmastoon-test"})
