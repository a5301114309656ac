package registry

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-io/sluice/internal/tenancy"
)

// Record kinds in the registry topic. The record key names the entity, so
// compaction keeps exactly the latest state of each.
const (
	kindProject   = "project"
	kindAccessKey = "access_key"
	kindStreams   = "streams"
	// Saved queries, their cached results and the cached-query
	// scheduler's members (saved.go); deleted with tombstones.
	kindSavedQuery  = "saved_query"
	kindSavedResult = "saved_result"
	kindMember      = "member"
)

// record is the value of a registry topic record.
type record struct {
	Kind      string     `json:"kind"`
	Project   *Project   `json:"project,omitempty"`
	AccessKey *AccessKey `json:"access_key,omitempty"`
	ProjectID string     `json:"project_id,omitempty"`
	Streams   *Streams   `json:"streams,omitempty"`

	SavedQuery  *SavedQuery  `json:"saved_query,omitempty"`
	SavedResult *SavedResult `json:"saved_result,omitempty"`
	Member      *Member      `json:"member,omitempty"`
	Dataset     *Dataset     `json:"dataset,omitempty"`

	DatasetRun    *DatasetRun    `json:"dataset_run,omitempty"`
	DatasetResult *DatasetResult `json:"dataset_result,omitempty"`
}

// The keys of the records that say who may connect and where events flow.
const (
	projectKeyPrefix   = "project/"
	accessKeyKeyPrefix = "access_key/"
	streamsKeyPrefix   = "streams/"
)

func projectRecordKey(pid string) string        { return projectKeyPrefix + pid }
func accessKeyRecordKey(pid, key string) string { return accessKeyKeyPrefix + pid + "/" + key }
func streamsRecordKey(pid string) string        { return streamsKeyPrefix + pid }

func encodeRecord(r record) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		// Only our own types are encoded; they always marshal.
		panic(fmt.Sprintf("encoding registry record: %v", err))
	}
	return b
}

// View is the folded state of the registry topic. It is not safe for
// concurrent use; the Registry guards it.
type View struct {
	projects map[string]*projectState
	// byDigest finds an access key by the SHA-256 of its value, so the map
	// lookup reveals nothing about the key's bytes and the final comparison
	// can be constant time.
	byDigest map[[32]byte]*AccessKey
	// members are the schedule members by group and id.
	members map[string]map[string]Member
}

type projectState struct {
	project  Project
	keys     map[string]*AccessKey
	byKeyID  map[string]*AccessKey // by tenancy.KeyID, as named in raw topics
	streams  Streams
	saved    map[string]SavedQuery    // by name
	results  map[string]SavedResult   // by saved query name
	datasets map[string]*datasetState // by name
}

// NewView returns an empty view.
func NewView() *View {
	return &View{projects: map[string]*projectState{}, byDigest: map[[32]byte]*AccessKey{}, members: map[string]map[string]Member{}}
}

// Apply folds one record into the view. A malformed or inconsistent record
// is refused with an error and leaves the view unchanged.
func (v *View) Apply(key, value []byte) error {
	var r record
	if err := json.Unmarshal(value, &r); err != nil {
		return fmt.Errorf("registry record %q is not JSON: %w", key, err)
	}
	switch r.Kind {
	case kindProject:
		p := r.Project
		if p == nil || !isHex(p.ID, 24) || string(key) != projectRecordKey(p.ID) ||
			!isHex(p.MasterKey, 64) || !isHex(p.WriteKey, 64) || !isHex(p.ReadKey, 64) {
			return fmt.Errorf("registry record %q: malformed project", key)
		}
		if st, ok := v.projects[p.ID]; ok {
			st.project = *p
		} else {
			v.projects[p.ID] = &projectState{project: *p, keys: map[string]*AccessKey{}, byKeyID: map[string]*AccessKey{},
				saved: map[string]SavedQuery{}, results: map[string]SavedResult{}, datasets: map[string]*datasetState{}}
		}
	case kindAccessKey:
		k := r.AccessKey
		if k == nil || !isHex(k.Key, 64) || string(key) != accessKeyRecordKey(k.ProjectID, k.Key) {
			return fmt.Errorf("registry record %q: malformed access key", key)
		}
		st, ok := v.projects[k.ProjectID]
		if !ok {
			return fmt.Errorf("registry record %q: access key of unknown project", key)
		}
		kc := *k
		st.keys[k.Key] = &kc
		st.byKeyID[tenancy.KeyID(k.Key)] = &kc
		v.byDigest[sha256.Sum256([]byte(k.Key))] = &kc
	case kindStreams:
		st, ok := v.projects[r.ProjectID]
		if r.Streams == nil || !ok || string(key) != streamsRecordKey(r.ProjectID) {
			return fmt.Errorf("registry record %q: malformed stream settings", key)
		}
		st.streams = *r.Streams
	default:
		return v.applySaved(key, r)
	}
	return nil
}

// Project returns a project by id.
func (v *View) Project(pid string) (Project, bool) {
	st, ok := v.projects[pid]
	if !ok {
		return Project{}, false
	}
	return st.project, true
}

// Projects lists an organization's projects, oldest first.
func (v *View) Projects(orgID string) []Project {
	var out []Project
	for _, st := range v.projects {
		if st.project.OrgID == orgID {
			out = append(out, st.project)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// AccessKeys lists a project's live (not deleted) access keys by name.
func (v *View) AccessKeys(pid string) []AccessKey {
	st, ok := v.projects[pid]
	if !ok {
		return nil
	}
	out := []AccessKey{}
	for _, k := range st.keys {
		if !k.Deleted {
			out = append(out, *k)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// AccessKey returns one of a project's access keys, deleted ones included
// (the pipeline still needs their autofill).
func (v *View) AccessKey(pid, key string) (AccessKey, bool) {
	st, ok := v.projects[pid]
	if !ok {
		return AccessKey{}, false
	}
	k, ok := st.keys[key]
	if !ok {
		return AccessKey{}, false
	}
	return *k, true
}

// AccessKeyByID returns an access key by the id that names it in raw topic
// names, deleted keys included (their autofill still applies to what they
// wrote).
func (v *View) AccessKeyByID(pid, keyID string) (AccessKey, bool) {
	st, ok := v.projects[pid]
	if !ok {
		return AccessKey{}, false
	}
	k, ok := st.byKeyID[keyID]
	if !ok {
		return AccessKey{}, false
	}
	return *k, true
}

// Streams returns a project's stream settings.
func (v *View) Streams(pid string) (Streams, bool) {
	st, ok := v.projects[pid]
	if !ok {
		return Streams{}, false
	}
	return st.streams, true
}

// KeyKind says which of a project's keys a secret is.
type KeyKind int

// Key kinds.
const (
	KindNone KeyKind = iota
	KindMaster
	KindWrite
	KindRead
	KindAccess
)

func (k KeyKind) String() string {
	return [...]string{"none", "master", "write", "read", "access"}[k]
}

// Credential is the result of matching a secret against a project's keys.
type Credential struct {
	ProjectID string
	Kind      KeyKind
	// AccessKey is set for KindAccess.
	AccessKey *AccessKey
}

// Permits reports whether the credential allows permission p. The master key
// allows everything; the write and read keys carry Keen's default permissions.
func (c Credential) Permits(p string) bool {
	switch c.Kind {
	case KindMaster:
		return true
	case KindWrite:
		return p == PermWrites
	case KindRead:
		return p != PermWrites
	case KindAccess:
		return c.AccessKey.Permits(p)
	}
	return false
}

// Match finds which of pid's keys secret is. Deleted and revoked access keys
// match nothing. Every built-in key is compared in constant time whether or
// not the project exists, so an unknown project and a wrong key cost the same.
func (v *View) Match(pid, secret string) Credential {
	var p Project
	st, known := v.projects[pid]
	if known {
		p = st.project
	}
	kind := KindNone
	for _, c := range []struct {
		key  string
		kind KeyKind
	}{{p.MasterKey, KindMaster}, {p.WriteKey, KindWrite}, {p.ReadKey, KindRead}} {
		if subtle.ConstantTimeCompare([]byte(padKey(c.key)), []byte(secret)) == 1 && known && kind == KindNone {
			kind = c.kind
		}
	}
	if kind != KindNone {
		return Credential{ProjectID: pid, Kind: kind}
	}
	k, ok := v.byDigest[sha256.Sum256([]byte(secret))]
	if !ok || !known || k.ProjectID != pid || k.Deleted || !k.IsActive ||
		subtle.ConstantTimeCompare([]byte(k.Key), []byte(secret)) != 1 {
		return Credential{}
	}
	kc := *k
	return Credential{ProjectID: pid, Kind: KindAccess, AccessKey: &kc}
}

// padKey gives an unknown project's empty keys the length of a real key so
// the comparisons do the same work.
func padKey(k string) string {
	if k == "" {
		return strings.Repeat("\x00", 64)
	}
	return k
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
