package embedded

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

func TestKfakeLoggerLevels(t *testing.T) {
	for _, tc := range []struct {
		level kfake.LogLevel
		msg   string
		want  string // the level sluice logs it at, "" for not at all
	}{
		{kfake.LogLevelError, "persist: %s", "ERROR"},
		{kfake.LogLevelWarn, "accept: %s; retrying", "WARN"},
		{kfake.LogLevelWarn, "txn: EndTxn slow pid=%d", "DEBUG"},
		{kfake.LogLevelInfo, "request %s", ""},
	} {
		var buf bytes.Buffer
		kfakeLogger{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}.Logf(tc.level, tc.msg, 1)
		got := buf.String()
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, "level="+tc.want) {
			t.Errorf("%q at kfake level %v: logged %q, want level %q", tc.msg, tc.level, got, tc.want)
		}
	}
}
