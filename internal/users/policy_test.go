package users

import (
	"slices"
	"strings"
	"testing"
)

// Reference values from Python 3.11:
// difflib.SequenceMatcher(a=a, b=b).quick_ratio().
func TestQuickRatioMatchesDifflib(t *testing.T) {
	tests := []struct {
		a, b string
		want float64
	}{
		{"password", "alice@example.com", 0.24},
		{"alice2024", "alice", 0.7142857142857143},
		{"alice@example.com", "alice@example.com", 1.0},
		{"exampel12", "example", 0.875},
		{"s3cret-pass", "s3cret", 0.7058823529411765},
		{"abcdefgh", "hgfedcba", 1.0},
		{"aab", "abb", 0.6666666666666666},
		{"aaaa", "aa", 0.6666666666666666},
		{"hello", "world", 0.4},
		{"ünï", "ïnü", 1.0},
		{"password1", "alice@example.com", 0.23076923076923078},
		{"abc", "", 0.0},
		{"", "", 1.0},
	}
	for _, tt := range tests {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			if got := quickRatio([]rune(tt.a), []rune(tt.b)); got != tt.want {
				t.Errorf("quickRatio(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

// Reference values from Python: re.split(r'\W+', s).
func TestSplitNonWordMatchesPython(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"alice@example.com", []string{"alice", "example", "com"}},
		{"@a", []string{"", "a"}},
		{"a@", []string{"a", ""}},
		{"", []string{""}},
		{"...", []string{"", ""}},
		{"john.smith@mail.org", []string{"john", "smith", "mail", "org"}},
		{"a_b@c", []string{"a_b", "c"}},
		{"ü@例.jp", []string{"ü", "例", "jp"}},
		{"x--y", []string{"x", "y"}},
		{"²@b", []string{"²", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := splitNonWord(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("splitNonWord(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPasswordPolicy(t *testing.T) {
	short8 := "This password is too short. It must contain at least 8 characters."
	tests := []struct {
		name, password, email string
		minLength             int
		want                  []string
	}{
		{"good", "s3cret-pass", "alice@example.com", 8, nil},
		{"similar-to-local-part", "alice2024", "alice@example.com", 8, []string{MsgTooSimilar}},
		{"similar-to-whole-email", "alice@example.co", "alice@example.com", 8, []string{MsgTooSimilar}},
		{"similar-to-domain-label", "exampel12", "bob@example.com", 8, []string{MsgTooSimilar}},
		{"similar-case-insensitive", "ALICE2024", "alice@example.com", 8, []string{MsgTooSimilar}},
		{"much-longer-password-skips-similarity", strings.Repeat("ab", 10), "ab@c.de", 8, nil},
		{"no-email-no-similarity", "alice2024", "", 8, nil},
		{"short", "xk3-pq9", "", 8, []string{short8}},
		{"exactly-min-length", "xk3-pq9z", "", 8, nil},
		{"min-length-counts-characters-not-bytes", "ééééééé", "", 8, []string{short8}},
		{"custom-min-length", "s3cret-pass", "", 12, []string{"This password is too short. It must contain at least 12 characters."}},
		{"singular-min-length", "", "", 1, []string{"This password is too short. It must contain at least 1 character."}},
		{"common", "iloveyou", "", 8, []string{MsgTooCommon}},
		{"common-case-insensitive", "PassWord", "", 8, []string{MsgTooCommon}},
		{"numeric", "90817263544", "", 8, []string{MsgNumeric}},
		{"numeric-unicode-digits", "١٢٣٤٥٦٧٨٩٠", "", 8, []string{MsgNumeric}},
		{"numeric-superscripts", "²²²²²²²²³", "", 8, []string{MsgNumeric}},
		{"short-common-numeric", "1", "", 8, []string{short8, MsgTooCommon, MsgNumeric}},
		{"common-and-numeric", "12345678", "", 8, []string{MsgTooCommon, MsgNumeric}},
		{"all-four-in-order", "1234", "1234@example.com", 8, []string{MsgTooSimilar, short8, MsgTooCommon, MsgNumeric}},
		{"similar-and-short", "alice", "alice@example.com", 8, []string{MsgTooSimilar, short8, MsgTooCommon}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			common, err := commonPasswords()
			if err != nil {
				t.Fatal(err)
			}
			p := passwordPolicy{minLength: tt.minLength, common: common}
			if got := p.check(tt.password, tt.email); !slices.Equal(got, tt.want) {
				t.Errorf("check(%q, %q) = %q, want %q", tt.password, tt.email, got, tt.want)
			}
		})
	}
}

func TestCommonPasswordsList(t *testing.T) {
	common, err := commonPasswords()
	if err != nil {
		t.Fatal(err)
	}
	if len(common) < 10000 {
		t.Fatalf("%d common passwords, want at least 10,000", len(common))
	}
	for _, p := range []string{"password", "123456", "qwerty", "iloveyou", "letmein"} {
		if _, ok := common[p]; !ok {
			t.Errorf("%q missing", p)
		}
	}
	for p := range common {
		if p != strings.ToLower(p) || p != Strip(p) || p == "" {
			t.Errorf("entry %q is not a stripped lower-case word", p)
		}
	}
}

func TestPyIsDigits(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"0123456789", true},
		{"", false},
		{"12a", false},
		{"1.5", false},
		{"-1", false},
		{"١٢٣", true}, // Arabic-Indic (Nd)
		{"²³¹", true}, // superscripts: isdigit, not Nd
		{"①②", true},  // circled digits
		{"Ⅻ", false},  // Roman numeral: isnumeric, not isdigit
		{"½", false},  // vulgar fraction
		{"12 34", false},
	}
	for _, tt := range tests {
		if got := pyIsDigits(tt.in); got != tt.want {
			t.Errorf("pyIsDigits(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestPyStrip(t *testing.T) {
	if got := Strip("\x1c\x1d\t\u3000 x y \u2028\x1f\u00a0"); got != "x y" {
		t.Errorf("Strip = %q", got)
	}
	if got := Strip("\u200bx\u200b"); got != "\u200bx\u200b" {
		t.Errorf("zero-width space is not whitespace in Python: %q", got)
	}
}
