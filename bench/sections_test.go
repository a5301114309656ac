package main

import "testing"

func TestMergeSections(t *testing.T) {
	legacy := "# Kafka Inbound listener benchmark\n\nold figures\n"
	got := mergeSections(legacy, map[string]string{"pipeline": "# Pipeline\n\nnew\n"})
	want := "<!-- bench:inbound -->\n# Kafka Inbound listener benchmark\n\nold figures\n<!-- /bench:inbound -->\n\n" +
		"<!-- bench:pipeline -->\n# Pipeline\n\nnew\n<!-- /bench:pipeline -->\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// A new Inbound section replaces only that one.
	again := mergeSections(got, map[string]string{"inbound": "# Inbound\n\nfresh"})
	want2 := "<!-- bench:inbound -->\n# Inbound\n\nfresh\n<!-- /bench:inbound -->\n\n" +
		"<!-- bench:pipeline -->\n# Pipeline\n\nnew\n<!-- /bench:pipeline -->\n"
	if again != want2 {
		t.Fatalf("got\n%s\nwant\n%s", again, want2)
	}
}
