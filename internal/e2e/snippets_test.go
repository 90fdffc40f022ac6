package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// snippetsPage is the page showing the verifier snippets.
const snippetsPage = "docs/verifying-tokens.md"

// snippets are the files the interop test runs that snippetsPage shows.
var snippets = []string{
	"internal/e2e/testdata/goverify/verify.go",
	"internal/e2e/testdata/pyjwt_verify.py",
	"internal/e2e/testdata/jose_verify.mjs",
	"internal/e2e/testdata/drf_settings.py",
}

// snippetBlock is a fenced block marked with the file it shows.
var snippetBlock = regexp.MustCompile("(?s)<!-- snippet: (\\S+) -->\n```[a-z]*\n(.*?)```\n")

// TestREADMESnippets checks that every code block of "Verify idp tokens
// in your service" (snippetsPage) is byte for byte the file the interop
// test runs, so the documentation shows only code that has been exercised.
func TestREADMESnippets(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, snippetsPage))
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]string{}
	for _, m := range snippetBlock.FindAllStringSubmatch(string(readme), -1) {
		if _, dup := shown[m[1]]; dup {
			t.Errorf("%s shows %s twice", snippetsPage, m[1])
		}
		shown[m[1]] = m[2]
	}
	for _, path := range snippets {
		t.Run(filepath.Base(path), func(t *testing.T) {
			file, err := os.ReadFile(filepath.Join(repoRoot, path))
			if err != nil {
				t.Fatal(err)
			}
			block, ok := shown[path]
			if !ok {
				t.Fatalf("%s has no block marked <!-- snippet: %s -->", snippetsPage, path)
			}
			if block != string(file) {
				t.Errorf("%s's block for %s differs from the file (copy the file into it)", snippetsPage, path)
			}
		})
	}
	for path := range shown {
		if _, err := os.Stat(filepath.Join(repoRoot, path)); err != nil {
			t.Errorf("%s marks a snippet of %s: %v", snippetsPage, path, err)
		}
	}
}
