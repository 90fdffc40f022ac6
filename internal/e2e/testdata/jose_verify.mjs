// Verify idp access tokens in Node.js with jose (npm install jose).
import { createRemoteJWKSet, jwtVerify } from 'jose';

const issuer = process.env.IDP_ISSUER ?? 'https://idp.example.com'; // idp's tokens.issuer

// Fetched on first use, then cached: refetched when older than cacheMaxAge (use idp's
// jwks.max_age) and when a token names a kid it does not know.
const jwks = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`), {
  cacheMaxAge: Number(process.env.JWKS_CACHE_SECONDS ?? 300) * 1000,
});

// Resolves to the claims of a valid idp access token; rejects otherwise.
export async function verifyAccessToken(token) {
  const { payload } = await jwtVerify(token, jwks, {
    issuer,
    algorithms: [process.env.IDP_ACCESS_ALGORITHM ?? 'RS256'], // idp's keys.access_algorithm
    typ: 'at+jwt',
    requiredClaims: ['exp', 'iat', 'sub'],
    clockTolerance: 10, // seconds of clock skew
    // audience: 'my-api', // when idp's tokens.audience is set
  });
  if (payload.token_type !== 'access') {
    throw new Error('not an access token');
  }
  return payload; // payload.user_id, payload.email, payload.sub
}
