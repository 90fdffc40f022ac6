package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/storage/sqlite"
	"github.com/idp/idp/internal/storage/storagetest"
)

// syncBuffer is an io.Writer safe to read while a running server writes
// its log lines into it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sandbox gives the test a fresh working directory (so the default
// data/idp.db, keys/kek and configs/idp.yaml are its own) and hides any
// IDP_* configuration of the surrounding environment. It returns the
// directory.
func sandbox(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, config.EnvPrefix+"_") && !strings.HasPrefix(k, "IDP_TEST_") {
			t.Setenv(k, "") // restored at cleanup
			os.Unsetenv(k)
		}
	}
	return dir
}

// migratedSandbox is sandbox with an empty, migrated store at the default
// path (only serve and migrate create one).
func migratedSandbox(t *testing.T) string {
	t.Helper()
	dir := sandbox(t)
	idp(t, nil, "migrate").mustSucceed(t)
	return dir
}

// result is what one idp invocation printed and returned.
type result struct {
	stdout, stderr string
	err            error
}

// idp runs the command line args with stdin (nil: empty) in the test's
// environment and working directory.
func idp(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var stdout, stderr syncBuffer
	root := newRoot(stdin, &stdout, &stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return result{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// all is everything a user would see: both streams and the error.
func (r result) all() string {
	s := r.stdout + r.stderr
	if r.err != nil {
		s += r.err.Error()
	}
	return s
}

func (r result) mustSucceed(t *testing.T) result {
	t.Helper()
	if r.err != nil {
		t.Fatalf("idp failed: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
	}
	return r
}

func TestVersion(t *testing.T) {
	sandbox(t)
	r := idp(t, nil, "version").mustSucceed(t)
	b := buildInfo()
	want := "idp " + version + "\ncommit:   " + b.Commit + "\nbuilt:    " + b.BuildDate + "\ngo:       " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if r.stdout != want {
		t.Errorf("version printed %q, want %q", r.stdout, want)
	}
	r = idp(t, nil, "--version").mustSucceed(t)
	if r.stdout != b.Line()+"\n" || !strings.HasPrefix(r.stdout, "idp "+version+" (commit ") {
		t.Errorf("--version printed %q", r.stdout)
	}
	r = idp(t, nil, "version", "--json").mustSucceed(t)
	var got build
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got != b || !strings.HasSuffix(r.stdout, "}\n") {
		t.Errorf("version --json printed %q (%v)", r.stdout, err)
	}
}

func TestConfigCheck(t *testing.T) {
	const (
		dbPassword = "hunter2-db-secret"
		// base64 of 16 bytes: decodes, wrong length.
		shortKEK = "c2hvcnQta2VrLXNlY3JldA=="
		// not base64 at all.
		garbageKEK = "kek-secret-!!-not-base64"
	)
	cases := []struct {
		name string
		env  map[string]string
		args []string
		// file is written to configs/idp.yaml in the working directory.
		file string
		// wantOut: substrings of stdout on success.
		wantOut []string
		// wantProblems: substrings of the error, which must be *config.Problems.
		wantProblems []string
		// secrets must not appear anywhere in the output or the error.
		secrets []string
		// bug: a known defect; the case is skipped.
		bug string
	}{
		{
			name:    "defaults",
			wantOut: []string{"configuration OK (env development, listen 127.0.0.1:8080, store sqlite data/idp.db, issuer http://127.0.0.1:8080)\nfile: none (defaults, IDP_* environment and flags only)\n"},
		},
		{
			name:    "unspecified-host-gets-a-loopback-issuer",
			args:    []string{"--http-addr", ":9090"},
			wantOut: []string{"listen :9090, store sqlite data/idp.db, issuer http://127.0.0.1:9090)"},
		},
		{
			// The host and database are named (which store), the password never.
			name:    "postgres-password-is-not-printed",
			env:     map[string]string{"IDP_DATABASE_URL": "postgres://admin:" + dbPassword + "@db.internal:5432/idp"},
			wantOut: []string{"store postgres db.internal:5432/idp,"},
			secrets: []string{dbPassword, "admin"},
		},
		{
			name:    "default-file-in-working-directory",
			file:    "http:\n  addr: 127.0.0.1:9999\n",
			wantOut: []string{"listen 127.0.0.1:9999", "\nfile: configs/idp.yaml\n"},
		},
		{
			name:    "env-beats-file-and-flag-beats-env",
			file:    "http:\n  addr: 127.0.0.1:9999\nlog:\n  level: warn\n",
			env:     map[string]string{"IDP_HTTP_ADDR": "127.0.0.1:7777", "IDP_ENV": "development"},
			args:    []string{"--http-addr", "127.0.0.1:6666"},
			wantOut: []string{"listen 127.0.0.1:6666"},
		},
		{
			name: "every-problem-at-once",
			env: map[string]string{
				"IDP_HTTP_ADDR":             "nonsense",
				"IDP_LOG_LEVEL":             "loud",
				"IDP_TOKENS_ACCESS_TTL":     "5x",
				"IDP_KEYS_ACCESS_ALGORITHM": "HS256",
				"IDP_PASSWORDS_MIN_LENGTH":  "3",
				"IDP_DATABASE_URL":          "mysql://root:" + dbPassword + "@db.internal/idp",
				"IDP_KEYS_ENCRYPTION_KEY":   shortKEK + "," + garbageKEK,
			},
			wantProblems: []string{
				`http.addr: "nonsense":`,
				`log.level: "loud": must be debug, info, warn or error`,
				`tokens.access_ttl: "5x": not a duration`,
				`keys.access_algorithm: "HS256": must be`,
				`passwords.min_length: "3": must be between 8 and 128`,
				`database.url: (value hidden): must be a postgres:// or postgresql:// URL`,
				`keys.encryption_keys[0]: (value hidden): must decode to 32 bytes, got 16`,
				`keys.encryption_keys[1]: (value hidden): not base64`,
			},
			secrets: []string{dbPassword, "db.internal", shortKEK, garbageKEK, "short-kek-secret"},
		},
		{
			name:         "unparseable-database-url",
			env:          map[string]string{"IDP_DATABASE_URL": "postgres://admin:" + dbPassword + "@db.internal:%zz/idp"},
			wantProblems: []string{"database.url: (value hidden)"},
			secrets:      []string{dbPassword, "db.internal"},
		},
		{
			// keys.algorithm was renamed keys.access_algorithm: a deployment
			// still setting the old variable silently gets the default.
			name:         "unknown-IDP-environment-variable",
			env:          map[string]string{"IDP_KEYS_ALGORITHM": "EdDSA"},
			wantProblems: []string{"IDP_KEYS_ALGORITHM"},
		},
		{
			name:         "unknown-key-in-file",
			file:         "http:\n  adress: 127.0.0.1:1\n",
			wantProblems: []string{"http.adress: unknown key in configs/idp.yaml"},
		},
		{
			name:         "production-needs-issuer-and-kek",
			env:          map[string]string{"IDP_ENV": "production"},
			wantProblems: []string{"tokens.issuer", "keys.encryption_keys: (empty): required in production", "IDP_KEYS_ENCRYPTION_KEY"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.bug != "" {
				t.Skip("BUG: " + tc.bug)
			}
			dir := sandbox(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			if tc.file != "" {
				if err := os.MkdirAll(filepath.Join(dir, "configs"), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, config.DefaultFile), []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r := idp(t, nil, append([]string{"config", "check"}, tc.args...)...)
			if tc.wantProblems == nil {
				r.mustSucceed(t)
				for _, w := range tc.wantOut {
					if !strings.Contains(r.stdout, w) {
						t.Errorf("stdout %q lacks %q", r.stdout, w)
					}
				}
			} else {
				var p *config.Problems
				if !errors.As(r.err, &p) {
					t.Fatalf("error %v (%T), want *config.Problems", r.err, r.err)
				}
				for _, w := range tc.wantProblems {
					if !strings.Contains(r.err.Error(), w) {
						t.Errorf("problems lack %q:\n%s", w, r.err)
					}
				}
				if r.stdout != "" {
					t.Errorf("stdout on failure: %q", r.stdout)
				}
			}
			for _, s := range tc.secrets {
				if strings.Contains(r.all(), s) {
					t.Errorf("output reveals secret %q:\n%s", s, r.all())
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("config check created data/ (err %v): it must not open the store", err)
			}
		})
	}
}

func TestConfigCheckExplicitFile(t *testing.T) {
	cases := []struct {
		name    string
		how     func(t *testing.T, path string) []string // returns extra args
		content string
		want    string
		wantErr string
	}{
		{
			name:    "IDP_CONFIG",
			how:     func(t *testing.T, path string) []string { t.Setenv("IDP_CONFIG", path); return nil },
			content: "http:\n  addr: 127.0.0.1:5555\n",
			want:    "listen 127.0.0.1:5555",
		},
		{
			name:    "--config",
			how:     func(t *testing.T, path string) []string { return []string{"--config", path} },
			content: "http:\n  addr: 127.0.0.1:4444\n",
			want:    "listen 127.0.0.1:4444",
		},
		{
			name:    "missing-explicit-file-is-an-error",
			how:     func(t *testing.T, path string) []string { return []string{"--config", path + ".missing"} },
			content: "",
			wantErr: "read config file",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sandbox(t)
			path := filepath.Join(t.TempDir(), "idp.yaml")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			r := idp(t, nil, append([]string{"config", "check"}, tc.how(t, path)...)...)
			if tc.wantErr != "" {
				if r.err == nil || !strings.Contains(r.err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", r.err, tc.wantErr)
				}
				return
			}
			r.mustSucceed(t)
			if !strings.Contains(r.stdout, tc.want) {
				t.Errorf("stdout %q lacks %q", r.stdout, tc.want)
			}
		})
	}
}

func TestGenerateKEK(t *testing.T) {
	sandbox(t)
	seen := map[string]bool{}
	for i := range 3 {
		r := idp(t, nil, "keys", "generate-kek").mustSucceed(t)
		line := strings.TrimSuffix(r.stdout, "\n")
		if strings.Contains(line, "\n") || line == r.stdout {
			t.Fatalf("run %d: want exactly one line, got %q", i, r.stdout)
		}
		b, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			t.Fatalf("run %d: %q is not base64: %v", i, line, err)
		}
		if len(b) != 32 {
			t.Fatalf("run %d: KEK is %d bytes, want 32", i, len(b))
		}
		if _, err := config.DecodeKEK(line); err != nil {
			t.Fatalf("run %d: the configuration refuses the generated KEK: %v", i, err)
		}
		if seen[line] {
			t.Fatalf("run %d: KEK repeated", i)
		}
		seen[line] = true
	}
}

func TestMigrate(t *testing.T) {
	t.Run("sqlite-fresh-path-twice", func(t *testing.T) {
		dir := sandbox(t)
		path := filepath.Join(dir, "nested", "dir", "idp.db")
		t.Setenv("IDP_DATABASE_SQLITE_PATH", path)
		for i := range 2 {
			r := idp(t, nil, "migrate").mustSucceed(t)
			if r.stdout != "migrations applied (sqlite "+path+"): schema version "+strconv.FormatInt(sqlite.LatestVersion(), 10)+"\n" {
				t.Errorf("run %d: stdout %q", i, r.stdout)
			}
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("database file: %v", err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("database file mode %04o: readable by others (it holds password hashes)", perm)
		}
		// The schema is there: listing users works and finds none.
		r := idp(t, nil, "users", "list", "--json").mustSucceed(t)
		if strings.TrimSpace(r.stdout) != "[]" {
			t.Errorf("users list on a fresh store: %q, want []", r.stdout)
		}
	})
	t.Run("sqlite-path-flag", func(t *testing.T) {
		dir := sandbox(t)
		path := filepath.Join(dir, "flagged.db")
		idp(t, nil, "migrate", "--sqlite-path", path).mustSucceed(t)
		if _, err := os.Stat(path); err != nil {
			t.Errorf("--sqlite-path ignored: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the default data/ was created too (err %v)", err)
		}
	})
	t.Run("postgres-twice", func(t *testing.T) {
		sandbox(t)
		t.Setenv("IDP_DATABASE_URL", storagetest.PostgresURL(t))
		for i := range 2 {
			r := idp(t, nil, "migrate", "--json").mustSucceed(t)
			var got struct {
				Backend string `json:"backend"`
				Version int64  `json:"schema_version"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Backend != "postgres" || got.Version < 4 {
				t.Errorf("run %d: stdout %q", i, r.stdout)
			}
		}
		r := idp(t, nil, "users", "list", "--json").mustSucceed(t)
		if strings.TrimSpace(r.stdout) != "[]" {
			t.Errorf("users list on a fresh store: %q, want []", r.stdout)
		}
	})
	t.Run("unreachable-postgres-hides-password", func(t *testing.T) {
		sandbox(t)
		const secret = "pg-pass-secret-42"
		// Port 1 on loopback: refused at once.
		t.Setenv("IDP_DATABASE_URL", "postgres://admin:"+secret+"@127.0.0.1:1/idp?sslmode=disable&connect_timeout=5")
		r := idp(t, nil, "migrate")
		if r.err == nil {
			t.Fatal("migrate succeeded against a closed port")
		}
		if strings.Contains(r.all(), secret) {
			t.Errorf("output reveals the database password:\n%s", r.all())
		}
	})
}

func TestConfigFileErrorsHideSecrets(t *testing.T) {
	const secret = "file-secret-pw-77"
	cases := []struct {
		name, yaml string
		bug        string // non-empty: a known leak, skipped
	}{
		{name: "unclosed-flow-sequence", yaml: "database:\n  url: postgres://u:" + secret + "@h/db\n  bad: [unclosed\n"},
		{name: "unterminated-quote", yaml: "database:\n  url: \"postgres://u:" + secret + "@h/db\n"},
		{name: "tab-indentation", yaml: "database:\n\turl: postgres://u:" + secret + "@h/db\n"},
		{name: "trailing-garbage", yaml: "database: {url: postgres://u:" + secret + "@h/db} extra\n"},
		{name: "duplicate-key", yaml: "database:\n  url: postgres://u:" + secret + "@h/db\n  url: postgres://u:" + secret + "@h/db2\n"},
		{name: "wrong-type-for-secret", yaml: "keys:\n  encryption_keys: {a: " + secret + "}\ndatabase:\n  url: [" + secret + "]\n"},
		{
			name: "explicit-yaml-tag-mismatch",
			yaml: "database:\n  url: !!int postgres://u:" + secret + "@h/db\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.bug != "" {
				t.Skip("BUG: " + tc.bug)
			}
			sandbox(t)
			path := filepath.Join(t.TempDir(), "idp.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			r := idp(t, nil, "config", "check", "--config", path)
			if r.err == nil {
				t.Fatalf("config check accepted:\n%s", tc.yaml)
			}
			if strings.Contains(r.all(), secret) {
				t.Errorf("the error reveals a secret from the file:\n%s", r.all())
			}
		})
	}
}
