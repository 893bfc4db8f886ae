package redismap

import (
	"errors"
	"fmt"
	"strconv"
)

// The outcomes a caller must tell apart. Every error a [Map] returns names
// the operation and the key, and wraps these with %w, so errors.Is and
// errors.As see through it.
var (
	// ErrFenced reports a commit that the server rejected because a newer
	// fencing token was issued for the key while the loader ran: its lease
	// expired and another caller took over, or a Store or Delete of the key
	// overtook it. The value the loader returned is not stored; the caller
	// that ran the loader still receives it, with an error wrapping
	// ErrFenced.
	ErrFenced = errors.New("redismap: commit fenced by a newer token")

	// ErrLeaseLost reports a commit that found neither the lease nor the
	// fence key of the entry: the server lost them (a restart without
	// persistence, a failover to a replica that had not received them, or
	// eviction). Nothing is stored; the caller that ran the loader still
	// receives its value, with an error wrapping ErrLeaseLost.
	ErrLeaseLost = errors.New("redismap: lease and fence keys lost on the server")

	// ErrNotFound is what a loader returns (directly or wrapped) to say the
	// key does not exist at its source. With Options.NegativeTTL set, the
	// answer is cached for that long, so callers of a hot missing key get
	// ErrNotFound without calling the loader; without it, it is shared like
	// any loader error.
	ErrNotFound = errors.New("redismap: not found")

	// ErrValueTooLarge reports a value whose encoding is longer than
	// Options.MaxValueSize. Nothing is stored; it is shared with the
	// waiters like a loader error, since every process would produce the
	// same value.
	ErrValueTooLarge = errors.New("redismap: value too large")

	// ErrEncode reports a value the codec could not encode. Nothing is
	// stored; it is shared with the waiters like a loader error.
	ErrEncode = errors.New("redismap: value does not encode")

	// ErrInvalidKey reports a key that does not encode to a Redis key name
	// (a NaN, a value the key function or JSON rejects).
	ErrInvalidKey = errors.New("redismap: key does not encode")

	// ErrClosed is returned by every method called after [Map.Close], and
	// by a waiter whose Map is closed while it waits.
	ErrClosed = errors.New("redismap: map closed")
)

// SharedError is the error a caller receives when the loader of its key
// failed in another process (or in this one, in an earlier computation
// whose error marker is still alive): the failure was stored as a
// short-lived error marker (Options.ErrorTTL) so that the waiters in every
// process receive it instead of calling the loader again.
//
// Message is the original error's text. If the original error matched one
// of Options.SharedErrors (or ErrNotFound, ErrValueTooLarge, ErrEncode,
// context.DeadlineExceeded, context.Canceled) by errors.Is, Unwrap returns
// that sentinel, so errors.Is works across processes.
type SharedError struct {
	Key     string // the encoded key
	Message string // the loader's error text, as the failing process saw it
	err     error  // the matching sentinel, or nil
}

// Error returns a message naming the key and the original error.
func (e *SharedError) Error() string {
	return "redismap: key " + strconv.Quote(e.Key) + ": loader failed (shared error): " + e.Message
}

// Unwrap returns the sentinel the original error matched, or nil.
func (e *SharedError) Unwrap() error { return e.err }

// DecodeError reports a stored value that the codec could not decode. A
// value that does not decode is never returned as a zero value; it stays in
// Redis until it expires or is overwritten (another version of the program
// may be writing it).
type DecodeError struct {
	Key string // the encoded key
	Err error  // the codec's error
}

// Error returns a message naming the key and the codec's error.
func (e *DecodeError) Error() string {
	return "redismap: key " + strconv.Quote(e.Key) + ": stored value does not decode: " + e.Err.Error()
}

// Unwrap returns the codec's error.
func (e *DecodeError) Unwrap() error { return e.Err }

// opError wraps an error from the Redis client with the operation and key.
func opError(op, key string, err error) error {
	return fmt.Errorf("redismap: %s %q: %w", op, key, err)
}
