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
	// commit and modified are the repository's when the run started
	// (stamp): sluice was built from it, and a run can outlast a commit.
	commit   string
	modified bool
}

// stamp records the repository's commit, and whether its tree outside
// bench/ was modified; call it when the run starts.
func (r *reportFlags) stamp() {
	r.commit = git(r.repo, "rev-parse", "HEAD")
	d := git(r.repo, "status", "--porcelain", "--", ".", ":(exclude)bench")
	r.modified = d != "" && d != "?"
}

// shortCommit is the stamped commit's short form.
func (r reportFlags) shortCommit() string {
	if len(r.commit) > 7 {
		return r.commit[:7]
	}
	return r.commit
}

// modifiedNote is what a report adds after the commit when the tree was
// modified.
func (r reportFlags) modifiedNote() string {
	if r.modified {
		return " (plus uncommitted changes outside bench/ at the time of the run)"
	}
	return ""
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
