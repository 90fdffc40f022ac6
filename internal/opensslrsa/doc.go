// Package opensslrsa signs RS256 with the system's OpenSSL 3 (libcrypto.so.3)
// instead of Go's crypto/rsa, when it is there.
//
// Why: an RS256 access token costs one RSA-2048 private-key operation, and
// that operation is most of a refresh's CPU (issue 14). On the 2-core
// development machine Go's crypto/rsa signs ≈ 1,200/s per core, OpenSSL 3
// ≈ 3,300/s (`openssl speed rsa2048`); Go's BoringCrypto mode ≈ 1,400/s.
// No maintained Go binding of OpenSSL is served by this machine's module
// proxy (golang-fips/openssl is refused; libp2p/go-openssl is archived), so
// this package is the smallest binding that does the job: libcrypto is
// opened with dlopen at first use — nothing is linked at build time, no
// OpenSSL headers are needed, and a host without libcrypto.so.3 (or a build
// without cgo, such as the static container image) simply keeps Go's
// implementation.
//
// Only PKCS #1 v1.5 signatures over SHA-256 digests go to OpenSSL; anything
// else a caller asks of the signer goes to crypto/rsa. PKCS #1 v1.5 is
// deterministic, so an OpenSSL signature is byte for byte the one crypto/rsa
// would make (the tests compare them), and every signature is verified
// with crypto/rsa before it is returned — a binding or library fault can
// fail a request, never emit a bad signature or leak a faulty CRT result.
//
// The private key is imported once (PKCS #1 DER, zeroed after import) into
// an EVP_PKEY freed when the Go signer is collected. OpenSSL keeps RSA
// blinding and constant-time exponentiation on by default.
package opensslrsa
