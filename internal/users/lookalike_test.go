package users

import (
	"testing"

	"github.com/idp/idp/internal/storage"
	"github.com/idp/idp/internal/storage/storagetest"
)

// TestLookAlikeEmails (item 8): forms of one address that look the same —
// fullwidth, decomposed, punycode — are the same account; a domain label
// mixing scripts is refused at registration; genuine internationalised
// domains register.
func TestLookAlikeEmails(t *testing.T) {
	storagetest.ForEachBackend(t, func(t *testing.T, store storage.Store) {
		s, _ := newTestService(t, store)
		const taken = `{"email":["User with this email already exists."]}`
		const invalid = `{"email":["Enter a valid email address."]}`
		reg := func(email string) Registration {
			return Registration{Name: "N", Email: email, Password: "s3cret-pass-9"}
		}
		mustRegister(t, s, reg("jo@bücher.de"))
		mustRegister(t, s, reg("ann@example.com"))
		for _, tc := range []struct{ name, email, want string }{
			{"punycode-of-registered", "jo@xn--bcher-kva.de", taken},
			{"decomposed-of-registered", "jo@bu\u0308cher.de", taken},
			{"fullwidth-domain", "ann@ｅｘａｍｐｌｅ.com", taken},
			{"mixed-script-label", "ann@exаmple.com", invalid}, // Cyrillic а
			{"mixed-script-punycode", "ann@xn--exmple-4nf.com", invalid},
			{"greek-omicron-in-latin", "x@gοogle.com", invalid},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.Register(t.Context(), reg(tc.email))
				wantValidation(t, err, tc.want)
			})
		}
		for _, ok := range []string{"a@пример.рф", "b@日本語ドメイン.jp", "c@한국어.kr", "d@ελληνικά.gr"} {
			if _, err := s.Register(t.Context(), reg(ok)); err != nil {
				t.Errorf("single-script domain %q refused: %v", ok, err)
			}
		}
		// Login finds the account under any of its forms.
		for _, form := range []string{"jo@xn--bcher-kva.de", "JO@BÜCHER.DE"} {
			if _, err := s.Authenticate(t.Context(), form, "s3cret-pass-9"); err != nil {
				t.Errorf("login as %q: %v", form, err)
			}
		}
	})
}
