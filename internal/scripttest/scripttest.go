// Package scripttest is what the test helpers that start real servers
// through the project's scripts (kafkatest: scripts/kafka.sh,
// clickhousetest: scripts/clickhouse.sh) share: where the repository is,
// running a script, free loopback ports, the servers' log tails.
package scripttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RepoRoot is the nearest directory at or above the working directory that
// holds go.mod; go test runs in the package directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("scripttest: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripttest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Run executes the bash script with args and returns its stdout; the error
// carries its stderr, which holds the reason (and the scripts' log tails).
// Cancelling ctx sends SIGTERM, not SIGKILL: the scripts' traps then stop
// half-started servers.
func Run(ctx context.Context, script string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		what := filepath.Base(script)
		if len(args) > 0 {
			what += " " + args[0]
		}
		return "", fmt.Errorf("%s: %w\n%s", what, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// FreeBasePort finds a base port such that the ports base+10*i+k, for
// servers i < n and k < perServer, are all free on loopback. It stays
// below Linux's ephemeral range (32768+) so that outgoing connections
// cannot take a port between the probe and the server's bind.
func FreeBasePort(n, perServer int) (int, error) {
	const lo, hi = 20000, 32000
	for range 100 {
		base := lo + 10*rand.IntN((hi-lo-10*n)/10)
		if portsFree(base, n, perServer) {
			return base, nil
		}
	}
	return 0, errors.New("scripttest: no free port range found")
}

func portsFree(base, n, perServer int) bool {
	for i := range n {
		for k := range perServer {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+10*i+k)))
			if err != nil {
				return false
			}
			_ = l.Close()
		}
	}
	return true
}

// LogTails returns the last n lines of every file matching the glob, each
// under its name.
func LogTails(glob string, n int) string {
	var b strings.Builder
	files, _ := filepath.Glob(glob)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "----- %s -----\n%s\n", f, strings.Join(lines, "\n"))
	}
	return b.String()
}
