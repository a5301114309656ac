package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// RESULTS.md holds one section per benchmark, each between
// "<!-- bench:NAME -->" and "<!-- /bench:NAME -->", in sectionOrder.
// run.sh runs a selection of the benchmarks: the sections of the others
// are kept as they were.
var sectionOrder = []string{"inbound", "inbound-ab", "pipeline", "outbound", "idle", "fairness", "queries", "soak"}

func sectionMarks(name string) (string, string) {
	return "<!-- bench:" + name + " -->", "<!-- /bench:" + name + " -->"
}

// parseSections splits a RESULTS.md into its sections. A file without
// marks is the Inbound benchmark's report from before there were
// sections.
func parseSections(doc string) map[string]string {
	out := map[string]string{}
	found := false
	for _, name := range sectionOrder {
		open, end := sectionMarks(name)
		i := strings.Index(doc, open)
		j := strings.Index(doc, end)
		if i < 0 || j < i {
			continue
		}
		found = true
		out[name] = strings.TrimSpace(doc[i+len(open) : j])
	}
	if !found && strings.TrimSpace(doc) != "" {
		out["inbound"] = strings.TrimSpace(doc)
	}
	return out
}

// mergeSections returns doc with the given sections replaced.
func mergeSections(doc string, fresh map[string]string) string {
	secs := parseSections(doc)
	for k, v := range fresh {
		secs[k] = strings.TrimSpace(v)
	}
	var b strings.Builder
	for _, name := range sectionOrder {
		body, ok := secs[name]
		if !ok {
			continue
		}
		open, end := sectionMarks(name)
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s\n%s\n%s\n", open, body, end)
	}
	return b.String()
}

// sections implements `sluicebench sections RESULTS.md NAME=FILE...`.
func sections(args []string) error {
	if len(args) < 2 {
		return errors.New("usage: sluicebench sections RESULTS.md NAME=FILE...")
	}
	results := args[0]
	old, err := os.ReadFile(results)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	fresh := map[string]string{}
	for _, a := range args[1:] {
		name, file, ok := strings.Cut(a, "=")
		known := false
		for _, n := range sectionOrder {
			known = known || n == name
		}
		if !ok || !known {
			return fmt.Errorf("%q: want NAME=FILE with NAME one of %v", a, sectionOrder)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		fresh[name] = string(b)
	}
	return os.WriteFile(results, []byte(mergeSections(string(old), fresh)), 0o644)
}
