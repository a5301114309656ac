package scripttest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLogTails(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(dir, n), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n, "x.log"), []byte("1\n2\n3-"+n+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := LogTails(filepath.Join(dir, "*", "x.log"), 2)
	for _, want := range []string{"2\n3-a", "2\n3-b", filepath.Join(dir, "a", "x.log")} {
		if !strings.Contains(got, want) {
			t.Errorf("LogTails: %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "1\n") {
		t.Errorf("LogTails kept more than 2 lines: %q", got)
	}
}

func TestFreeBasePort(t *testing.T) {
	base, err := FreeBasePort(2, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		for k := range 3 {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+10*i+k)))
			if err != nil {
				t.Fatalf("port %d of base %d is not free: %v", base+10*i+k, base, err)
			}
			l.Close()
		}
	}
}

func TestRunReportsStderr(t *testing.T) {
	script := filepath.Join(t.TempDir(), "s.sh")
	if err := os.WriteFile(script, []byte("echo out; [ \"$1\" = ok ] || { echo why >&2; exit 3; }\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := Run(context.Background(), script, "ok"); err != nil || out != "out\n" {
		t.Errorf("Run ok: %q, %v", out, err)
	}
	if _, err := Run(context.Background(), script, "bad"); err == nil || !strings.Contains(err.Error(), "why") || !strings.Contains(err.Error(), "s.sh bad") {
		t.Errorf("Run bad: %v; want the script, its argument and its stderr", err)
	}
}
