package saved_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/embedded"
	"github.com/sluice-io/sluice/internal/registry"
	"github.com/sluice-io/sluice/internal/saved"
	"github.com/sluice-io/sluice/internal/saved/savedtest"
)

func TestIsLeader(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	grace := time.Second
	m := func(id string, joined, expires int) registry.Member {
		return registry.Member{ID: id, Joined: t0.Add(time.Duration(joined) * time.Second), Expires: t0.Add(time.Duration(expires) * time.Second)}
	}
	cases := []struct {
		name    string
		members []registry.Member
		self    string
		now     int
		want    bool
	}{
		{"alone", []registry.Member{m("a", 0, 10)}, "a", 5, true},
		{"not a member yet", []registry.Member{m("a", 0, 10)}, "b", 5, false},
		{"own beat about to expire", []registry.Member{m("a", 0, 10)}, "a", 9, false},
		{"older member live", []registry.Member{m("a", 0, 10), m("b", 1, 10)}, "b", 5, false},
		{"older member leads", []registry.Member{m("a", 0, 10), m("b", 1, 10)}, "a", 5, true},
		{"older member expired, within grace", []registry.Member{m("a", 0, 10), m("b", 1, 20)}, "b", 11, false},
		{"older member expired past grace", []registry.Member{m("a", 0, 10), m("b", 1, 20)}, "b", 12, true},
		{"same join time: smaller id", []registry.Member{m("b", 0, 10), m("a", 0, 10)}, "b", 5, false},
		{"same join time: smaller id leads", []registry.Member{m("b", 0, 10), m("a", 0, 10)}, "a", 5, true},
	}
	for _, c := range cases {
		if got := saved.IsLeader(c.members, c.self, t0.Add(time.Duration(c.now)*time.Second), grace); got != c.want {
			t.Errorf("%s: IsLeader = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestScheduleExactlyOnce runs savedtest.ExactlyOnce on the embedded log.
func TestScheduleExactlyOnce(t *testing.T) {
	log, err := embedded.Start(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	savedtest.ExactlyOnce(t, log.Addrs())
}
