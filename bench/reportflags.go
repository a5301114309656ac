package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
)

// reportFlags are the flags every benchmark's report takes: where it goes,
// and what it quotes (command line, commit, software and settings).
type reportFlags struct {
	out, raw, command, repo, env string
}

// register adds the flags to fs; out is the report's default file.
func (r *reportFlags) register(fs *flag.FlagSet, out, raw, rawHelp string) {
	fs.StringVar(&r.out, "out", out, "the report (Markdown)")
	fs.StringVar(&r.raw, "raw", raw, rawHelp)
	fs.StringVar(&r.command, "command", "", "the command line to quote in the report")
	fs.StringVar(&r.repo, "repo", ".", "the repository (for the commit)")
	fs.StringVar(&r.env, "env", "", "software versions and settings to quote in the report, lines of key=value")
}

// envPairs are env's key=value lines, in order (a line without "=" is
// left out).
func (r reportFlags) envPairs() [][2]string {
	var out [][2]string
	for _, line := range strings.Split(strings.TrimSpace(r.env), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

// write writes a benchmark's report: rep as indented JSON to raw (when
// set), markdown to out.
func (r reportFlags) write(rep any, markdown string) error {
	if r.raw != "" {
		raw, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding %s: %w", r.raw, err)
		}
		if err := os.WriteFile(r.raw, append(raw, '\n'), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(r.out, []byte(markdown), 0o644); err != nil {
		return err
	}
	logf("wrote %s", r.out)
	return nil
}
