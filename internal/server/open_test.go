package server

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/storage/storagetest"
)

// TestOpenExisting: a store that is missing or not migrated is refused
// as *NoStoreError and left as it was; a migrated one opens.
func TestOpenExisting(t *testing.T) {
	ctx := t.Context()
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		cfg := testConfig()
		cfg.Database.SQLitePath = filepath.Join(dir, "sub", "idp.db")
		var ns *NoStoreError
		if _, err := OpenExisting(ctx, cfg, nil); !errors.As(err, &ns) || ns.Reason != "no such file" || ns.Path != cfg.Database.SQLitePath {
			t.Fatalf("missing file: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "sub")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("directory created: %v", err)
		}
		// An empty SQLite database (created by OpenStore, not migrated).
		s, err := OpenStore(ctx, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := OpenExisting(ctx, cfg, nil); !errors.As(err, &ns) || !strings.Contains(ns.Reason, "never migrated") {
			t.Fatalf("unmigrated file: %v", err)
		}
		s, err = OpenStore(ctx, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := SchemaVersion(ctx, s); err != nil || v != 0 {
			t.Errorf("the refused open changed the schema: version %d, %v", v, err)
		}
		if err := Migrate(ctx, s); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s, err = OpenExisting(ctx, cfg, nil)
		if err != nil {
			t.Fatalf("migrated store refused: %v", err)
		}
		s.Close()
	})
	t.Run("postgres", func(t *testing.T) {
		cfg := testConfig()
		cfg.Database.URL = storagetest.PostgresURL(t)
		var ns *NoStoreError
		if _, err := OpenExisting(ctx, cfg, nil); !errors.As(err, &ns) || !strings.Contains(ns.Reason, "never migrated") || ns.Path != "" {
			t.Fatalf("empty schema: %v", err)
		}
		s := storagetest.OpenPostgres(t, cfg.Database.URL) // migrates
		s.Close()
		s2, err := OpenExisting(ctx, cfg, nil)
		if err != nil {
			t.Fatalf("migrated schema refused: %v", err)
		}
		s2.Close()
	})
}

func TestAnnounce(t *testing.T) {
	store := storagetest.OpenSQLite(t, filepath.Join(t.TempDir(), "idp.db"))
	e := newEnv(t, store, func(c *config.Config) {
		c.Tokens.Issuer = ""
		c.HTTP.Addr = "0.0.0.0:8080"
	})
	ln := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	var b strings.Builder
	e.srv.Announce(&b, Startup{Version: "idp test", Listener: ln, IssuerDerived: true, DevKEK: "keys/kek", Created: []string{"store data/idp.db", "first signing keys"}})
	out := b.String()
	for _, w := range []string{
		"idp test, development\n",
		"listening  http://127.0.0.1:8080  (every interface, port 8080)\n",
		"issuer     http://127.0.0.1:8080  (derived from http.addr; set tokens.issuer to the URL clients use; tokens are bound to it)\n",
		"discovery  http://127.0.0.1:8080/.well-known/openid-configuration\n",
		"jwks       http://127.0.0.1:8080/.well-known/jwks.json\n",
		"admin      http://127.0.0.1:8080/admin/\n",
		"store      sqlite data/idp.db",
		"kek        DEVELOPMENT key in keys/kek",
		"try        curl -s http://127.0.0.1:8080/api/register/",
		"created    store data/idp.db, first signing keys  (first run)\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("start-up block lacks %q:\n%s", w, out)
		}
	}

	b.Reset()
	e.srv.Announce(&b, Startup{Version: "idp test", Listener: ln, AdminListener: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 8081}})
	if w := "admin      http://10.0.0.5:8081/admin/  (admin.addr; not served on the public listener)\n"; !strings.Contains(b.String(), w) {
		t.Errorf("start-up block with admin.addr lacks %q:\n%s", w, b.String())
	}

	var logs logBuffer
	e2 := newEnv(t, storagetest.OpenSQLite(t, filepath.Join(t.TempDir(), "idp.db")), func(c *config.Config) { c.Log.Format = "json"; c.Env = config.EnvProduction })
	e2.srv.log = slog.New(slog.NewJSONHandler(&logs, nil))
	b.Reset()
	e2.srv.Announce(&b, Startup{Version: "idp test", Listener: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}})
	if b.Len() != 0 {
		t.Errorf("json logs: free text written: %q", b.String())
	}
	if l := logs.String(); !strings.Contains(l, `"msg":"started"`) || !strings.Contains(l, `"issuer":"http://idp.test"`) || !strings.Contains(l, `"development_kek":false`) {
		t.Errorf("json logs: %s", l)
	}
}
