package storage

import "testing"

func TestEmailKey(t *testing.T) {
	same := [][]string{
		{"alice@example.com", "ALICE@EXAMPLE.COM", "ａｌｉｃｅ@ｅｘａｍｐｌｅ.ｃｏｍ", "alice@EXAMPLE.com"},
		{"jo@bücher.de", "jo@BÜCHER.de", "jo@bu\u0308cher.de", "jo@xn--bcher-kva.de", "jo@XN--BCHER-KVA.DE", "jo@ｂüｃｈｅｒ.de"},
		{"x@café.fr", "x@cafe\u0301.fr", "x@xn--caf-dma.fr"},
	}
	for _, group := range same {
		want := EmailKey(group[0])
		for _, e := range group[1:] {
			if got := EmailKey(e); got != want {
				t.Errorf("EmailKey(%q) = %q, want %q (as %q)", e, got, want, group[0])
			}
		}
	}
	differ := [][2]string{
		{"alice@example.com", "alice@example.org"},
		{"jo@bücher.de", "jo@bucher.de"},
		{"x@pаypal.com", "x@paypal.com"}, // Cyrillic а: a different domain (refused at registration)
	}
	for _, d := range differ {
		if EmailKey(d[0]) == EmailKey(d[1]) {
			t.Errorf("EmailKey(%q) == EmailKey(%q)", d[0], d[1])
		}
	}
	if got := EmailKey("no-at-sign"); got != "no-at-sign" {
		t.Errorf("EmailKey without @ = %q", got)
	}
}
