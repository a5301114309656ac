// Package storetest holds Model, an in-memory store.Store that evaluates
// queries directly over decoded events as internal/store/query.go defines
// them, and the conformance suite every store engine must pass.
package storetest
