// Package hotline holds the domain of a crisis-communication link between
// sovereign parties: channels and their levels, the records a node keeps,
// the Store interface every node depends on, and the error vocabulary that
// the API and the CLI translate in one place each.
//
// The signed entry format is in package entry; keys and pinning in
// identity; the SQLite store in sqlite; the node service in node; the
// peer link in peer; the operator API in api.
package hotline

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in package api and one exit
// code in cmd/hotline.
const (
	EINVALID      = "invalid"      // the request or input is wrong; do not retry as is
	ENOTFOUND     = "not_found"    // no such channel, entry or party
	EUNAUTHORIZED = "unauthorized" // missing or bad credentials
	ECONFLICT     = "conflict"     // the state does not allow it (e.g. channel not yet active)
	EUNAVAILABLE  = "unavailable"  // try again later (store or peer unavailable)
	EBUSY         = "busy"         // too many requests or streams from this caller; retry later
	EINTERNAL     = "internal"     // a bug or an unexpected failure; details are logged
)

// Error is an error meant for the operator: a code and a message that says
// what to fix. Internal errors are never shown as they are: see ErrorMessage.
type Error struct {
	Code    string
	Message string
	// Field names the input field at fault, when there is one, so that a
	// form can show the error next to it.
	Field string
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// EINTERNAL; nil has no code.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	}
	return EINTERNAL
}

// ErrorField returns the field of the first *Error in err's chain, if any.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic message for internal errors so that details are not leaked.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	}
	return "internal error; see the node's log"
}
