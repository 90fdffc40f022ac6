package users

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"lowercases-domain-only", "Alice.Smith@EXAMPLE.COM", "Alice.Smith@example.com"},
		{"already-normal", "alice@example.com", "alice@example.com"},
		{"strips-surrounding-space", "  bob@Example.org \t\n", "bob@example.org"},
		{"strips-python-whitespace", "\u3000\x1cbob@Example.org\x1f\u00a0", "bob@example.org"},
		{"splits-at-last-at", `"a@B"@Example.COM`, `"a@B"@example.com`},
		{"empty-domain", "Alice@", "Alice@"},
		{"empty-local", "@EXAMPLE.com", "@example.com"},
		{"unicode-domain", "Ünïcode@BÜCHER.DE", "Ünïcode@bücher.de"},
		{"no-at-unchanged-not-even-stripped", "  NoAt.Example.COM ", "  NoAt.Example.COM "},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NormalizeEmail(tt.in); got != tt.want {
				t.Errorf("NormalizeEmail(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestValidEmail holds named cases; testdata/registration_vectors.json
// holds many more, answered by Django itself.
func TestValidEmail(t *testing.T) {
	tests := []struct {
		name  string
		email string
		want  bool
	}{
		{"plain", "alice@example.com", true},
		{"subdomain-and-plus", "alice+tag@mail.example.co.uk", true},
		{"all-atext", "!#$%&'*+/=?^_`{|}~-@example.com", true},
		{"localhost", "alice@localhost", true},
		{"localhost-is-case-sensitive", "alice@LOCALHOST", false},
		{"ipv4-literal", "alice@[192.0.2.1]", true},
		{"ipv6-literal", "alice@[2001:db8::1]", true},
		{"bad-ipv4-literal", "alice@[192.0.2.256]", false},
		{"ipv4-leading-zero", "alice@[192.0.2.01]", false},
		{"quoted-local", `"alice smith"@example.com`, false},
		{"quoted-local-escaped-quote", `"ali\"ce"@example.com`, true},
		{"quoted-local-with-at", `"a@b"@example.com`, true},
		{"idn-domain", "alice@bücher.de", true},
		{"idn-uppercase", "alice@BÜCHER.de", true},
		{"idn-cjk", "alice@例え.jp", true},
		{"punycode-domain", "alice@xn--bcher-kva.de", true},
		{"numeric-tld", "alice@example.123", true},
		{"missing-at", "alice.example.com", false},
		{"empty-local", "@example.com", false},
		{"empty-domain", "alice@", false},
		{"no-dot-in-domain", "alice@example", false},
		{"one-letter-tld", "alice@example.c", false},
		{"trailing-dot", "alice@example.com.", false},
		{"double-dot-domain", "alice@example..com", false},
		{"double-dot-local", "al..ice@example.com", false},
		{"leading-dot-local", ".alice@example.com", false},
		{"hyphen-label-start", "alice@-example.com", false},
		{"underscore-domain", "alice@exa_mple.com", false},
		{"label-64", "alice@" + strings.Repeat("a", 64) + ".com", false},
		{"label-63", "alice@" + strings.Repeat("a", 63) + ".com", true},
		{"non-ascii-local", "élodie@example.com", false},
		{"space-inside", "ali ce@example.com", false},
		{"longer-than-320", strings.Repeat("x", 64) + "@" + strings.Repeat("a.", 128) + "com", false},
		// Stricter than Django, on purpose:
		{"escaped-space-in-quotes", `"a\ b"@example.com`, false},
		{"control-in-quotes", "\"a\x01b\"@example.com", false},
		{"zero-width-space-in-idn", "alice@bü\u200bcher.de", false},
		{"soft-hyphen-in-idn", "alice@bü\u00adcher.de", false},
		{"bidi-override", "alice@exa\u202emple.com", false},
		{"kelvin-sign-local", "\u212aelvin@example.com", false},
		{"invalid-utf8", "al\xffice@example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validEmail(tt.email); got != tt.want {
				t.Errorf("validEmail(%q) = %v, want %v", tt.email, got, tt.want)
			}
		})
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"Alice@EXAMPLE.com", " a@B ", "no-at", `"a@b"@C`, "x@BÜCHER.DE", "@", "a@\u212a.com", "\x1c@\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := NormalizeEmail(s)
		if again := NormalizeEmail(n); again != n {
			t.Errorf("not idempotent: %q → %q → %q", s, n, again)
		}
		at := strings.LastIndexByte(n, '@')
		if at < 0 {
			if n != s {
				t.Errorf("no @ but changed: %q → %q", s, n)
			}
			return
		}
		if !strings.Contains(s, n[:at+1]) {
			t.Errorf("local part changed: %q → %q", s, n)
		}
		if d := n[at+1:]; d != strings.ToLower(d) {
			t.Errorf("domain not lower-cased: %q", n)
		}
	})
}

func FuzzValidEmail(f *testing.F) {
	for _, s := range []string{"alice@example.com", `"a\"b"@[::1]`, "a@bücher.de", "a@localhost", "a@[1.2.3.4]", "a@例え.jp", "\"@", "a@xn--.de"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !validEmail(s) {
			return
		}
		if !utf8.ValidString(s) || strings.ContainsAny(s, " \t\r\n\x00") || !strings.Contains(s, "@") {
			t.Errorf("accepted %q", s)
		}
		// What is stored (the normalised form) must still be valid.
		if n := NormalizeEmail(s); !validEmail(n) && !strings.HasSuffix(s, "@localhost") {
			t.Errorf("valid %q normalises to invalid %q", s, n)
		}
	})
}
