package main

import (
	"flag"
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
