// Command goverify is the test driver for verify.go (the README's Go
// snippet): one JSON request per stdin line ({"token": "..."}), one JSON
// answer per stdout line ({"ok": bool, "error": "...", "user_id": n}). The
// first line names the verifier and its version. It reads IDP_ISSUER and
// IDP_ACCESS_ALGORITHM.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "goverify:", err)
		os.Exit(1)
	}
}

func run() error {
	var alg jwa.SignatureAlgorithm
	if err := alg.Accept(os.Getenv("IDP_ACCESS_ALGORITHM")); err != nil {
		return err
	}
	v, err := NewVerifier(context.Background(), os.Getenv("IDP_ISSUER"), alg)
	if err != nil {
		return err
	}
	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(map[string]string{"name": "jwx", "version": jwxVersion(), "runtime": runtime.Version()}); err != nil {
		return err
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64<<10), 64<<10)
	for in.Scan() {
		var req struct{ Token string }
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			return err
		}
		answer := map[string]any{"ok": true}
		if tok, err := v.Verify(req.Token); err != nil {
			answer = map[string]any{"ok": false, "error": err.Error()}
		} else {
			answer["user_id"], _ = tok.Get("user_id")
		}
		if err := out.Encode(answer); err != nil {
			return err
		}
	}
	return in.Err()
}

func jwxVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/lestrrat-go/jwx/v2" {
				return d.Version
			}
		}
	}
	return "unknown"
}
