# Verify idp access tokens in Python with PyJWT (pip install "pyjwt[crypto]";
# Debian: python3-jwt python3-cryptography).
import os

import jwt

ISSUER = os.environ.get("IDP_ISSUER", "https://idp.example.com")  # idp's tokens.issuer
ALGORITHM = os.environ.get("IDP_ACCESS_ALGORITHM", "RS256")  # idp's keys.access_algorithm
KEY_TYPES = {"RS256": "RSA", "EdDSA": "OKP", "ES256": "EC"}

# Fetched on first use, then cached for `lifespan` seconds (use idp's jwks.max_age);
# a token naming an unknown kid makes it refetch.
jwks = jwt.PyJWKClient(
    f"{ISSUER}/.well-known/jwks.json",
    lifespan=int(os.environ.get("JWKS_CACHE_SECONDS", "300")),
)


def verify_access_token(token: str) -> dict:
    """Returns the claims of a valid idp access token; raises jwt.PyJWTError otherwise."""
    key = jwks.get_signing_key_from_jwt(token)
    if key.key_type != KEY_TYPES[ALGORITHM]:  # PyJWT would raise TypeError, not PyJWTError
        raise jwt.InvalidKeyError("the token's kid names a key of another type")
    claims = jwt.decode(
        token,
        key.key,
        algorithms=[ALGORITHM],
        issuer=ISSUER,
        # audience="my-api",  # when idp's tokens.audience is set
        leeway=10,  # seconds of clock skew
        options={"require": ["exp", "iat", "iss", "sub"]},
    )
    if claims.get("token_type") != "access":
        raise jwt.InvalidTokenError("not an access token")
    return claims  # claims["user_id"], claims["email"], claims["sub"]
