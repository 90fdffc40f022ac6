//go:build !(cgo && linux)

package opensslrsa

import (
	"crypto/rsa"
	"errors"
)

var errNoCgo = errors.New("this build has no cgo (or is not for Linux)")

func load() (string, error) { return "", errNoCgo }

func newSigner(*rsa.PrivateKey) (*signer, error) { return nil, errNoCgo }

// evpKey is never made in this build.
type evpKey struct{}

func (*evpKey) signSHA256([]byte, int) ([]byte, error) { return nil, errNoCgo }
