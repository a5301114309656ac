// Package jsontok reads single JSON tokens: it checks a string or a number
// token, finds where a string token ends, and decodes one. It is the
// low-level layer shared by sluice's two JSON readers: the event package,
// which checks and rewrites a client's event (its tree parser and its
// streaming path), and package leaf, which finds the typed leaves of a
// stored event. Neither the grammar of a token nor the decoding of its
// escapes is written twice.
//
// Its functions take the bytes and a position and return a position, so
// that a reader keeps its own cursor and its own error wording: jsontok only
// says whether a token is valid and where it ends.
package jsontok
