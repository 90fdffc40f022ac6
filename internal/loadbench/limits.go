package loadbench

import (
	"bufio"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/idp/idp/internal/config"
)

// Child subcommands: the limits measured in a process of their own, so
// that they are measured like idp is (its own process, its own
// GOMAXPROCS).
const (
	childRS256 = "__limit-rs256"
	childBare  = "__bare-jwks"
)

// RunChild runs a child subcommand if args name one, and reports whether
// it did. The loadbench main calls it first.
func RunChild(args []string) (bool, error) {
	if len(args) < 1 {
		return false, nil
	}
	switch args[0] {
	case childRS256:
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return true, err
		}
		rate, err := rs256Rate(d)
		if err != nil {
			return true, err
		}
		return true, json.NewEncoder(os.Stdout).Encode(map[string]any{"rate": rate, "gomaxprocs": runtime.GOMAXPROCS(0)})
	case childBare:
		return true, serveBare(args[1])
	}
	return false, nil
}

// rs256Rate signs a typical JWS signing input with RS256-2048 (crypto/rsa,
// as jwx does) for d and returns signatures per second.
func rs256Rate(d time.Duration) (float64, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return 0, err
	}
	input := []byte(strings.Repeat("eyJhbGciOiJSUzI1NiJ9.", 16))
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		h := sha256.Sum256(input)
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:]); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// limitRS256 measures the single-core RS256-2048 sign rate in a child
// process with GOMAXPROCS=1.
func limitRS256(ctx context.Context, d time.Duration) (float64, error) {
	cmd := exec.CommandContext(ctx, os.Args[0], childRS256, d.String())
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("rs256 limit: %w", err)
	}
	var r struct{ Rate float64 }
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, fmt.Errorf("rs256 limit: %w", err)
	}
	return r.Rate, nil
}

// limitArgon2 hashes with idp's default argon2id parameters on every core
// (one hash per core at a time, as idp's default concurrency bound
// permits at most) for d and returns hashes per second.
func limitArgon2(d time.Duration) (rate, cpuPerHash float64) {
	p := config.Default().Passwords.Argon2
	var n atomic.Int64
	c0 := selfCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			salt := make([]byte, 16)
			for time.Since(start) < d {
				argon2.IDKey([]byte("correct-horse-battery"), salt, p.Iterations, p.MemoryKiB, p.Parallelism, 32)
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	return float64(n.Load()) / el, (selfCPU() - c0) / float64(n.Load())
}

// selfCPU is this process's user+system CPU seconds so far.
func selfCPU() float64 {
	var r syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &r) != nil {
		return 0
	}
	return float64(r.Utime.Nano()+r.Stime.Nano()) / 1e9
}

// serveBare answers every GET with the JWKS bytes in file, with the
// headers idp sends, on 127.0.0.1:0; it prints the address and serves
// until its standard input closes.
func serveBare(file string) error {
	body, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	etag := fmt.Sprintf(`"%x"`, sum[:8])
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300, must-revalidate")
		h.Set("ETag", etag)
		w.Write(body)
	}), ReadHeaderTimeout: 10 * time.Second}
	fmt.Println(ln.Addr().String())
	go func() { io.Copy(io.Discard, os.Stdin); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// bareServer is the running child of serveBare.
type bareServer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	URL   string
}

func startBare(ctx context.Context, jwksFile string) (*bareServer, error) {
	cmd := exec.CommandContext(ctx, os.Args[0], childBare, jwksFile)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stdin.Close()
		cmd.Wait()
		return nil, fmt.Errorf("bare jwks server: %w", err)
	}
	return &bareServer{cmd: cmd, stdin: stdin, URL: "http://" + strings.TrimSpace(line) + "/.well-known/jwks.json"}, nil
}

func (b *bareServer) Pid() int { return b.cmd.Process.Pid }

func (b *bareServer) Stop() {
	b.stdin.Close()
	b.cmd.Wait()
}
