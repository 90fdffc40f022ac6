# settings.py of a Django REST Framework service that trusts idp's access tokens
# (pip install djangorestframework-simplejwt "pyjwt[crypto]"; Debian:
# python3-djangorestframework-simplejwt python3-cryptography).
import os

IDP_ISSUER = os.environ.get("IDP_ISSUER", "https://idp.example.com")  # idp's tokens.issuer

SIMPLE_JWT = {
    "ALGORITHM": "RS256",  # idp's keys.access_algorithm: SimpleJWT 5.2 cannot verify EdDSA
    "JWK_URL": f"{IDP_ISSUER}/.well-known/jwks.json",  # cached 300 s per process
    "VERIFYING_KEY": None,
    "ISSUER": IDP_ISSUER,
    "AUDIENCE": None,  # or one of idp's tokens.audience, when set
    "USER_ID_CLAIM": "user_id",  # idp's tokens.user_id_claim
    "LEEWAY": 10,  # seconds of clock skew
    "AUTH_HEADER_TYPES": ("Bearer",),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # No local user table: request.user is a TokenUser made from the claims
        # (request.user.id is the user_id claim, request.auth.payload the claims).
        "rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication",
        # The default, JWTAuthentication, loads the user whose primary key is user_id
        # from this service's own database: 401 "User not found" unless that row exists.
    ],
}
