package event

import "fmt"

// Keen's error names (docs/contract.md §7), used as Error.Name and as the
// error_code of the HTTP API. ErrInvalidAddOn and ErrPropertyLimit are
// sluice's own: Keen documents no name for a bad add-on specification, nor
// for an event over its property limit.
const (
	ErrInvalidEvent         = "InvalidEventError"
	ErrInvalidPropertyName  = "InvalidPropertyNameError"
	ErrListsOfNonPrimitives = "ListsOfNonPrimitivesNotAllowedError"
	ErrInvalidKeenNamespace = "InvalidKeenNamespaceProperty"
	ErrNamespaceType        = "NamespaceTypeError"
	ErrInvalidPropertyValue = "InvalidPropertyValueError"
	ErrInvalidAddOn         = "InvalidAddOnError"
	ErrPropertyLimit        = "PropertyLimitError"
)

// Error is why an event was refused: Name is one of the Err* names above,
// Message a sentence for a person that names the offending property and the
// rule it breaks. It is what the HTTP API answers and what a DLQ record
// carries.
type Error struct {
	Name    string
	Message string
}

func (e *Error) Error() string { return e.Name + ": " + e.Message }

func newError(name, format string, args ...any) *Error {
	return &Error{Name: name, Message: fmt.Sprintf(format, args...)}
}
