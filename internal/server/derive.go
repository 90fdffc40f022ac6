package server

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// deriveKeys derives one 32-byte key per KEK for a purpose (HKDF-SHA-256,
// info = purpose), in the KEKs' order: the first KEK's key signs, all
// verify, so a KEK rotation keeps old device cookies and hashes checkable
// while both KEKs are listed. Keys for different purposes are independent.
func deriveKeys(keks [][]byte, purpose string) [][]byte {
	keys := make([][]byte, 0, len(keks))
	for _, kek := range keks {
		k, err := hkdf.Key(sha256.New, kek, nil, "idp "+purpose, 32)
		if err != nil {
			continue // only for a length HKDF cannot give; 32 it can
		}
		keys = append(keys, k)
	}
	return keys
}

// firstKey is keys[0], or nil.
func firstKey(keys [][]byte) []byte {
	if len(keys) == 0 {
		return nil
	}
	return keys[0]
}
