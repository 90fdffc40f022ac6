//go:build cgo && linux

package opensslrsa

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

// Opaque OpenSSL types: only pointers to them cross this file.
typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;
typedef struct evp_md_st EVP_MD;

#define IDP_EVP_PKEY_RSA 6       // NID_rsaEncryption
#define IDP_RSA_PKCS1_PADDING 1

static EVP_PKEY *(*f_d2i_PrivateKey)(int, EVP_PKEY **, const unsigned char **, long);
static EVP_PKEY_CTX *(*f_EVP_PKEY_CTX_new)(EVP_PKEY *, void *);
static int (*f_EVP_PKEY_sign_init)(EVP_PKEY_CTX *);
static int (*f_EVP_PKEY_CTX_set_rsa_padding)(EVP_PKEY_CTX *, int);
static int (*f_EVP_PKEY_CTX_set_signature_md)(EVP_PKEY_CTX *, const EVP_MD *);
static int (*f_EVP_PKEY_sign)(EVP_PKEY_CTX *, unsigned char *, size_t *, const unsigned char *, size_t);
static void (*f_EVP_PKEY_CTX_free)(EVP_PKEY_CTX *);
static void (*f_EVP_PKEY_free)(EVP_PKEY *);
static const EVP_MD *(*f_EVP_sha256)(void);
static unsigned long (*f_OpenSSL_version_num)(void);
static const char *(*f_OpenSSL_version)(int);
static void (*f_ERR_clear_error)(void);
static unsigned long (*f_ERR_get_error)(void);
static void (*f_ERR_error_string_n)(unsigned long, char *, size_t);

// idp_load opens libcrypto.so.3 and resolves every function; it returns
// NULL or what went wrong (a static string). Called once.
static const char *idp_load(void) {
	void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		return dlerror();
	}
#define IDP_SYM(name) if ((*(void **)(&f_##name) = dlsym(h, #name)) == NULL) return "libcrypto.so.3 lacks " #name;
	IDP_SYM(d2i_PrivateKey)
	IDP_SYM(EVP_PKEY_CTX_new)
	IDP_SYM(EVP_PKEY_sign_init)
	IDP_SYM(EVP_PKEY_CTX_set_rsa_padding)
	IDP_SYM(EVP_PKEY_CTX_set_signature_md)
	IDP_SYM(EVP_PKEY_sign)
	IDP_SYM(EVP_PKEY_CTX_free)
	IDP_SYM(EVP_PKEY_free)
	IDP_SYM(EVP_sha256)
	IDP_SYM(OpenSSL_version_num)
	IDP_SYM(OpenSSL_version)
	IDP_SYM(ERR_clear_error)
	IDP_SYM(ERR_get_error)
	IDP_SYM(ERR_error_string_n)
#undef IDP_SYM
	if (f_OpenSSL_version_num() < 0x30000000UL) {
		return "libcrypto.so.3 reports a version before 3.0";
	}
	return NULL;
}

static const char *idp_version(void) { return f_OpenSSL_version(0); }

// OpenSSL's error queue is per thread, and consecutive cgo calls may run on
// different threads: each call clears it first and, on failure, returns
// the first error code (idp_unknown if the queue was empty), which
// idp_errstr turns into text on any thread.
#define IDP_UNKNOWN 1UL

static unsigned long idp_failed(void) {
	unsigned long e = f_ERR_get_error();
	f_ERR_clear_error();
	return e ? e : IDP_UNKNOWN;
}

static void idp_errstr(unsigned long e, char *buf, size_t n) {
	if (e == IDP_UNKNOWN) {
		strncpy(buf, "unknown OpenSSL error", n - 1);
		buf[n - 1] = 0;
		return;
	}
	f_ERR_error_string_n(e, buf, n);
}

static unsigned long idp_new_key(const unsigned char *der, long len, EVP_PKEY **out) {
	f_ERR_clear_error();
	const unsigned char *p = der;
	*out = f_d2i_PrivateKey(IDP_EVP_PKEY_RSA, NULL, &p, len);
	return *out ? 0 : idp_failed();
}

static void idp_free_key(EVP_PKEY *k) { f_EVP_PKEY_free(k); }

// idp_new_ctx makes a signing context for k set up for PKCS #1 v1.5 over
// SHA-256; contexts are reused, one call at a time.
static unsigned long idp_new_ctx(EVP_PKEY *k, EVP_PKEY_CTX **out) {
	f_ERR_clear_error();
	EVP_PKEY_CTX *c = f_EVP_PKEY_CTX_new(k, NULL);
	*out = NULL;
	if (c == NULL) {
		return idp_failed();
	}
	if (f_EVP_PKEY_sign_init(c) <= 0 ||
	    f_EVP_PKEY_CTX_set_rsa_padding(c, IDP_RSA_PKCS1_PADDING) <= 0 ||
	    f_EVP_PKEY_CTX_set_signature_md(c, f_EVP_sha256()) <= 0) {
		unsigned long e = idp_failed();
		f_EVP_PKEY_CTX_free(c);
		return e;
	}
	*out = c;
	return 0;
}

static void idp_free_ctx(EVP_PKEY_CTX *c) { f_EVP_PKEY_CTX_free(c); }

static unsigned long idp_sign(EVP_PKEY_CTX *c, unsigned char *sig, size_t *siglen,
                              const unsigned char *digest, size_t dlen) {
	f_ERR_clear_error();
	return f_EVP_PKEY_sign(c, sig, siglen, digest, dlen) > 0 ? 0 : idp_failed();
}
*/
import "C"

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

var (
	loadOnce    sync.Once
	loadVersion string
	loadErr     error
)

// load opens libcrypto.so.3 once and reports its version.
func load() (string, error) {
	loadOnce.Do(func() {
		if msg := C.idp_load(); msg != nil {
			loadErr = errors.New(C.GoString(msg))
			return
		}
		loadVersion = C.GoString(C.idp_version()) + " (libcrypto.so.3)"
	})
	return loadVersion, loadErr
}

// opensslError is the text of an OpenSSL error code.
func opensslError(code C.ulong) string {
	var buf [256]C.char
	C.idp_errstr(code, &buf[0], C.size_t(len(buf)))
	return C.GoString(&buf[0])
}

// evpKey is an EVP_PKEY and a free list of signing contexts for it.
type evpKey struct {
	pkey *C.EVP_PKEY
	mu   sync.Mutex
	idle []*C.EVP_PKEY_CTX
}

// maxIdle bounds the contexts kept between calls (more than the cores
// that can sign at once is waste).
const maxIdle = 32

func newSigner(priv *rsa.PrivateKey) (*signer, error) {
	if _, err := load(); err != nil {
		return nil, err
	}
	der := x509.MarshalPKCS1PrivateKey(priv)
	defer clear(der)
	var pk *C.EVP_PKEY
	if e := C.idp_new_key((*C.uchar)(unsafe.Pointer(&der[0])), C.long(len(der)), &pk); e != 0 {
		return nil, fmt.Errorf("OpenSSL refused the RSA key: %s", opensslError(e))
	}
	k := &evpKey{pkey: pk}
	s := &signer{priv: priv, key: k}
	runtime.AddCleanup(s, (*evpKey).close, k)
	return s, nil
}

func (k *evpKey) ctx() (*C.EVP_PKEY_CTX, error) {
	k.mu.Lock()
	if n := len(k.idle); n > 0 {
		c := k.idle[n-1]
		k.idle = k.idle[:n-1]
		k.mu.Unlock()
		return c, nil
	}
	k.mu.Unlock()
	var c *C.EVP_PKEY_CTX
	if e := C.idp_new_ctx(k.pkey, &c); e != 0 {
		return nil, fmt.Errorf("OpenSSL RSA signing context: %s", opensslError(e))
	}
	return c, nil
}

func (k *evpKey) putCtx(c *C.EVP_PKEY_CTX) {
	k.mu.Lock()
	if len(k.idle) < maxIdle {
		k.idle = append(k.idle, c)
		c = nil
	}
	k.mu.Unlock()
	if c != nil {
		C.idp_free_ctx(c)
	}
}

// signSHA256 makes the PKCS #1 v1.5 signature of a SHA-256 digest.
func (k *evpKey) signSHA256(digest []byte, size int) ([]byte, error) {
	c, err := k.ctx()
	if err != nil {
		return nil, err
	}
	sig := make([]byte, size)
	n := C.size_t(size)
	if e := C.idp_sign(c, (*C.uchar)(unsafe.Pointer(&sig[0])), &n,
		(*C.uchar)(unsafe.Pointer(&digest[0])), C.size_t(len(digest))); e != 0 {
		C.idp_free_ctx(c) // not reused after a failure
		return nil, fmt.Errorf("OpenSSL RSA sign: %s", opensslError(e))
	}
	k.putCtx(c)
	return sig[:n], nil
}

// close frees the contexts and the key; run when the signer is collected.
func (k *evpKey) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range k.idle {
		C.idp_free_ctx(c)
	}
	k.idle = nil
	C.idp_free_key(k.pkey)
	k.pkey = nil
}
