package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// snippets are the files the interop test runs that the README shows.
var snippets = []string{
	"internal/e2e/testdata/goverify/verify.go",
	"internal/e2e/testdata/pyjwt_verify.py",
	"internal/e2e/testdata/jose_verify.mjs",
	"internal/e2e/testdata/drf_settings.py",
}

// snippetBlock is a fenced block marked with the file it shows.
var snippetBlock = regexp.MustCompile("(?s)<!-- snippet: (\\S+) -->\n```[a-z]*\n(.*?)```\n")

// TestREADMESnippets checks that every code block of the README's "Verify
// idp tokens in your service" is byte for byte the file the interop test
// runs, so the README shows only code that has been exercised.
func TestREADMESnippets(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]string{}
	for _, m := range snippetBlock.FindAllStringSubmatch(string(readme), -1) {
		if _, dup := shown[m[1]]; dup {
			t.Errorf("README shows %s twice", m[1])
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
				t.Fatalf("README has no block marked <!-- snippet: %s -->", path)
			}
			if block != string(file) {
				t.Errorf("README's block for %s differs from the file (copy the file into the README)", path)
			}
		})
	}
	for path := range shown {
		if _, err := os.Stat(filepath.Join(repoRoot, path)); err != nil {
			t.Errorf("README marks a snippet of %s: %v", path, err)
		}
	}
}
