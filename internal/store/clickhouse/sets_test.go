package clickhouse

import "testing"

func TestInSet(t *testing.T) {
	for _, c := range []struct {
		values []string
		want   string
	}{
		{[]string{"a", "b"}, `(SELECT arrayJoin(splitByChar(',', 'a,b')))`},
		{[]string{"a,1", "b"}, `(SELECT arrayJoin(splitByChar(';', 'a,1;b')))`},
		{[]string{"it's", `x\y`}, `(SELECT arrayJoin(splitByChar(',', 'it\'s,x\\y')))`},
		{[]string{",;|\x01\x02\x03\x1f", "b"}, `(',;|\x01\x02\x03\x1F', 'b')`},
	} {
		if got := inSet(c.values); got != c.want {
			t.Errorf("inSet(%q) = %s, want %s", c.values, got, c.want)
		}
	}
	var many []string
	for i := range 400000 {
		many = append(many, string(rune('a'+i%26))+"0123456789012345678901")
	}
	sets := inSets(many)
	if len(sets) < 2 {
		t.Fatalf("%d sets for 400,000 values of 23 bytes, want them split under %d bytes", len(sets), maxSet)
	}
	for _, s := range sets {
		if len(s) > maxSet+100 {
			t.Errorf("a set of %d bytes, over %d", len(s), maxSet)
		}
	}
}
