package authn

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/idp/idp/internal/storage"
)

// Device cookies (OWASP "Slow brute-force attacks: device cookies"): a
// successful login hands the client a token bound to the account; an
// attempt that presents it again is counted on that device alone, so an
// attacker running up the account's failures cannot lock the owner out.
//
// A device token is "d1.<payload>.<mac>", payload = base64url(16 random
// bytes ‖ issued-at, Unix seconds, big-endian uint64), mac =
// base64url(HMAC-SHA-256(key, "idp device v1\x00" ‖ account ‖ "\x00" ‖
// payload)), where account is the login address as uniqueness compares it.
// It names no account (the MAC binds it), holds no secret of the user,
// and is checked with every configured key (the first signs), so the key
// can rotate.

const devicePrefix = "d1."

// maxDeviceToken bounds what is parsed of a presented cookie.
const maxDeviceToken = 128

func deviceMAC(key []byte, account, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("idp device v1\x00"))
	m.Write([]byte(account))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// newDevice issues a device token for the account at now.
func (s *Service) newDevice(email string, now time.Time) string {
	if len(s.deviceKeys) == 0 {
		return ""
	}
	var raw [24]byte
	_, _ = rand.Read(raw[:16])
	binary.BigEndian.PutUint64(raw[16:], uint64(now.Unix()))
	payload := base64.RawURLEncoding.EncodeToString(raw[:])
	mac := deviceMAC(s.deviceKeys[0], storage.EmailKey(email), payload)
	return devicePrefix + payload + "." + base64.RawURLEncoding.EncodeToString(mac)
}

// device is the identifier of a presented device token if it is valid for
// the account and not older than DeviceTTL; "" otherwise (an invalid
// cookie is no cookie: the attempt is throttled as any unknown client's).
func (s *Service) device(token, email string, now time.Time) string {
	if len(s.deviceKeys) == 0 || len(token) > maxDeviceToken || !strings.HasPrefix(token, devicePrefix) {
		return ""
	}
	payload, macText, ok := strings.Cut(token[len(devicePrefix):], ".")
	if !ok {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || len(raw) != 24 {
		return ""
	}
	mac, err := base64.RawURLEncoding.DecodeString(macText)
	if err != nil {
		return ""
	}
	account := storage.EmailKey(email)
	valid := false
	for _, k := range s.deviceKeys {
		if hmac.Equal(mac, deviceMAC(k, account, payload)) {
			valid = true
		}
	}
	if !valid {
		return ""
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(raw[16:])), 0)
	if issued.After(now.Add(time.Minute)) || now.Sub(issued) > s.deviceTTL {
		return ""
	}
	return hex.EncodeToString(raw[:16])
}
