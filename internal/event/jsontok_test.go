package event

import "github.com/sluice-io/sluice/internal/jsontok"

// The names stream_test.go checks the token scanners (package jsontok) by,
// against the tree parser.

func scanStringToken(d []byte, i int) (int, bool) { return jsontok.String(d, i) }
func scanNameToken(d []byte, i int) (int, bool)   { return jsontok.PlainName(d, i) }
func scanNumberToken(d []byte, i int) (int, bool) { return jsontok.Number(d, i) }
func unquote(tok []byte) ([]byte, bool)           { return jsontok.Unquote(tok) }
