package registry

import (
	"strings"
	"testing"

	"github.com/sluice-io/sluice/internal/tenancy"
)

func newTestProject(name string) Project {
	return Project{ID: NewProjectID(), OrgID: "org", Name: name, MasterKey: NewKey(), WriteKey: NewKey(), ReadKey: NewKey()}
}

func applyAll(t *testing.T, v *View, recs ...record) {
	t.Helper()
	for _, r := range recs {
		var key string
		switch r.Kind {
		case kindProject:
			key = projectRecordKey(r.Project.ID)
		case kindAccessKey:
			key = accessKeyRecordKey(r.AccessKey.ProjectID, r.AccessKey.Key)
		case kindStreams:
			key = streamsRecordKey(r.ProjectID)
		}
		if err := v.Apply([]byte(key), encodeRecord(r)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestViewMatch(t *testing.T) {
	v := NewView()
	p, q := newTestProject("p"), newTestProject("q")
	writer := AccessKey{Key: NewKey(), ProjectID: p.ID, Name: "w", IsActive: true, Permitted: []string{PermWrites}}
	revoked := AccessKey{Key: NewKey(), ProjectID: p.ID, Name: "r", IsActive: false, Permitted: []string{PermWrites}}
	deleted := AccessKey{Key: NewKey(), ProjectID: p.ID, Name: "d", IsActive: false, Deleted: true, Permitted: []string{PermWrites},
		Options: Options{Writes: &WritesOptions{Autofill: map[string]any{"tenant": "t1"}}}}
	applyAll(t, v, record{Kind: kindProject, Project: &p}, record{Kind: kindProject, Project: &q},
		record{Kind: kindAccessKey, AccessKey: &writer}, record{Kind: kindAccessKey, AccessKey: &revoked},
		record{Kind: kindAccessKey, AccessKey: &deleted})

	cases := []struct {
		name, pid, secret string
		want              KeyKind
	}{
		{"master", p.ID, p.MasterKey, KindMaster},
		{"write", p.ID, p.WriteKey, KindWrite},
		{"read", p.ID, p.ReadKey, KindRead},
		{"access", p.ID, writer.Key, KindAccess},
		{"revoked", p.ID, revoked.Key, KindNone},
		{"deleted", p.ID, deleted.Key, KindNone},
		{"other project's master", p.ID, q.MasterKey, KindNone},
		{"own key, other project id", q.ID, writer.Key, KindNone},
		{"unknown project", NewProjectID(), p.MasterKey, KindNone},
		{"empty secret", p.ID, "", KindNone},
		{"uppercase", p.ID, strings.ToUpper(p.MasterKey), KindNone},
		{"prefix", p.ID, p.MasterKey[:63], KindNone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := v.Match(tc.pid, tc.secret)
			if c.Kind != tc.want {
				t.Fatalf("Match = %v, want %v", c.Kind, tc.want)
			}
			if tc.want != KindNone && c.ProjectID != tc.pid {
				t.Fatalf("project %q", c.ProjectID)
			}
		})
	}
	if k, ok := v.AccessKey(p.ID, deleted.Key); !ok || k.Options.Writes.Autofill["tenant"] != "t1" {
		t.Fatal("deleted key's autofill lost")
	}
	if k, ok := v.AccessKeyByID(p.ID, tenancy.KeyID(deleted.Key)); !ok || k.Key != deleted.Key {
		t.Fatal("deleted key not found by its key id")
	}
	if _, ok := v.AccessKeyByID(q.ID, tenancy.KeyID(deleted.Key)); ok {
		t.Fatal("key found under another project")
	}
	if keys := v.AccessKeys(p.ID); len(keys) != 2 {
		t.Fatalf("listed %d keys, want the 2 not deleted", len(keys))
	}
}

func TestCredentialPermits(t *testing.T) {
	ak := &AccessKey{Permitted: []string{PermQueries}}
	cases := []struct {
		c    Credential
		perm string
		want bool
	}{
		{Credential{Kind: KindMaster}, PermWrites, true},
		{Credential{Kind: KindWrite}, PermWrites, true},
		{Credential{Kind: KindWrite}, PermQueries, false},
		{Credential{Kind: KindRead}, PermQueries, true},
		{Credential{Kind: KindRead}, PermWrites, false},
		{Credential{Kind: KindAccess, AccessKey: ak}, PermQueries, true},
		{Credential{Kind: KindAccess, AccessKey: ak}, PermWrites, false},
		{Credential{}, PermQueries, false},
	}
	for _, tc := range cases {
		if got := tc.c.Permits(tc.perm); got != tc.want {
			t.Errorf("%v permits %s = %v", tc.c.Kind, tc.perm, got)
		}
	}
}

func TestViewApplyRefusesMalformed(t *testing.T) {
	p := newTestProject("p")
	good := encodeRecord(record{Kind: kindProject, Project: &p})
	bad := p
	bad.MasterKey = "short"
	cases := []struct {
		name, key, value string
	}{
		{"not json", "x", "{"},
		{"unknown kind", "x", `{"kind":"user"}`},
		{"project without body", "project/x", `{"kind":"project"}`},
		{"key mismatch", "project/000000000000000000000000", string(good)},
		{"bad master key", projectRecordKey(p.ID), string(encodeRecord(record{Kind: kindProject, Project: &bad}))},
		{"access key of unknown project", accessKeyRecordKey(p.ID, strings.Repeat("a", 64)),
			string(encodeRecord(record{Kind: kindAccessKey, AccessKey: &AccessKey{Key: strings.Repeat("a", 64), ProjectID: p.ID}}))},
		{"streams of unknown project", streamsRecordKey(p.ID), string(encodeRecord(record{Kind: kindStreams, ProjectID: p.ID, Streams: &Streams{}}))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := NewView()
			if err := v.Apply([]byte(tc.key), []byte(tc.value)); err == nil {
				t.Fatal("accepted")
			}
			if len(v.projects) != 0 || len(v.byDigest) != 0 {
				t.Fatal("view changed by a refused record")
			}
		})
	}
}
