package redismap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// Codec turns values into bytes stored in Redis and back. A Codec must be
// safe for concurrent use. Decode must return an error for data it cannot
// decode: a Map never hands out a zero value in place of a stored one.
type Codec[V any] interface {
	Encode(value V) ([]byte, error)
	Decode(data []byte) (V, error)
}

// JSONCodec encodes values with encoding/json. It is the default for
// values other than string and []byte. The zero JSONCodec is ready for use
// and safe for concurrent use.
type JSONCodec[V any] struct{}

// Encode returns the JSON encoding of value.
func (JSONCodec[V]) Encode(value V) ([]byte, error) { return json.Marshal(value) }

// Decode parses JSON data into a new V.
func (JSONCodec[V]) Decode(data []byte) (V, error) {
	var v V
	err := json.Unmarshal(data, &v)
	return v, err
}

// rawCodec stores string and []byte values (and types whose underlying
// type is one of those) as they are.
type rawCodec[V any] struct {
	isString bool
}

func (c rawCodec[V]) Encode(value V) ([]byte, error) {
	rv := reflect.ValueOf(&value).Elem()
	if c.isString {
		return []byte(rv.String()), nil
	}
	return rv.Bytes(), nil
}

func (c rawCodec[V]) Decode(data []byte) (V, error) {
	var v V
	rv := reflect.ValueOf(&v).Elem()
	if c.isString {
		rv.SetString(string(data))
	} else {
		rv.SetBytes(append([]byte(nil), data...))
	}
	return v, nil
}

// defaultCodec returns the codec Options.Codec defaults to.
func defaultCodec[V any]() Codec[V] {
	t := reflect.TypeFor[V]()
	switch {
	case t.Kind() == reflect.String:
		return rawCodec[V]{isString: true}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return rawCodec[V]{}
	}
	return JSONCodec[V]{}
}

// defaultKeyEncoder returns the key encoding Options.Key defaults to,
// chosen once for K's type.
func defaultKeyEncoder[K comparable]() func(K) (string, error) {
	t := reflect.TypeFor[K]()
	switch t.Kind() {
	case reflect.String:
		return func(k K) (string, error) {
			// Safety: K's underlying type is string (checked above), so K
			// and string have one memory layout.
			return *(*string)(unsafe.Pointer(&k)), nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(k K) (string, error) { return strconv.FormatInt(reflect.ValueOf(k).Int(), 10), nil }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(k K) (string, error) { return strconv.FormatUint(reflect.ValueOf(k).Uint(), 10), nil }
	case reflect.Bool:
		return func(k K) (string, error) { return strconv.FormatBool(reflect.ValueOf(k).Bool()), nil }
	case reflect.Float32, reflect.Float64:
		bits := t.Bits()
		return func(k K) (string, error) {
			f := reflect.ValueOf(k).Float()
			if math.IsNaN(f) {
				return "", errors.New("a NaN key is never equal to itself")
			}
			if f == 0 {
				f = 0 // -0 and +0 are one key, as in a built-in map
			}
			return strconv.FormatFloat(f, 'g', -1, bits), nil
		}
	}
	return func(k K) (string, error) {
		b, err := json.Marshal(k)
		return string(b), err
	}
}

// A stored entry is one byte of kind followed by the kind's payload. All
// kinds live in the entry's value key, so one read sees whichever is there.
// The kind byte versions the format: kindExpiringValue is what this
// version writes for a value; kindTimedValue and kindValue, the forms
// before it, are still read.
const (
	kindExpiringValue = 'x' // "<expiry, server Unix ms>,<TTL ms>,<load ms>;" then the codec's encoding (see valueMeta)
	kindTimedValue    = 't' // "<TTL ms>,<load ms>;" then the codec's encoding
	kindValue         = 'v' // the codec's encoding of the value, with no metadata
	kindNegative      = 'n' // the loader said ErrNotFound; no payload
	kindError         = 'e' // a loader error marker: JSON errorMarker
)

// valueMeta is what a stored value carries besides itself: the TTL it was
// stored with and how long its loader took (0 for a Store), for refresh
// before expiry (a value's age is that TTL less its remaining TTL), and,
// in the current form, the server time at which it expires, which bounds
// a near-cache entry without asking the server for the remaining TTL.
type valueMeta struct {
	ttl       time.Duration
	load      time.Duration
	expiresAt int64 // the server's Unix time in ms at which the key expires; 0 in the older forms
	timed     bool  // false: a value of the oldest form, without metadata
}

// expiringValueHeader returns the header of a kindExpiringValue entry as
// the Map sends it: with the expiry left out. The script that stores it
// (entry.lua's set_entry) writes the expiry in, from the server's clock,
// and makes the key expire at exactly that time.
func expiringValueHeader(ttl, load time.Duration) string {
	return string(kindExpiringValue) + "," + strconv.FormatInt(ttl.Milliseconds(), 10) + "," +
		strconv.FormatInt(load.Milliseconds(), 10) + ";"
}

// maxExpiresAt bounds a stored expiry (server Unix ms), so that it converts
// to nanoseconds without overflow (until the year 2262).
const maxExpiresAt = math.MaxInt64 / int64(time.Millisecond)

// parseValueHeader splits the payload (after the kind byte) of a
// kindExpiringValue or kindTimedValue entry into its metadata and the
// codec's encoding.
func parseValueHeader(kind byte, payload string) (meta valueMeta, data string, err error) {
	header, data, ok := strings.Cut(payload, ";")
	if !ok {
		return meta, "", errors.New("value without its header")
	}
	fields := header
	if kind == kindExpiringValue {
		var at string
		at, fields, ok = strings.Cut(header, ",")
		if !ok {
			return meta, "", fmt.Errorf("value with a bad header %q", header)
		}
		if meta.expiresAt, ok = parseExpiry(at); !ok {
			return meta, "", fmt.Errorf("value with a bad expiry in its header %q", header)
		}
	}
	ttl, load, ok := strings.Cut(fields, ",")
	t, err1 := strconv.ParseInt(ttl, 10, 64)
	l, err2 := strconv.ParseInt(load, 10, 64)
	if !ok || err1 != nil || err2 != nil || t < 0 || l < 0 {
		return meta, "", fmt.Errorf("value with a bad header %q", header)
	}
	meta.ttl, meta.load, meta.timed = time.Duration(t)*time.Millisecond, time.Duration(l)*time.Millisecond, true
	return meta, data, nil
}

// storedExpiry returns the expiry (server Unix ms) that a
// kindExpiringValue entry carries, without decoding the rest.
func storedExpiry(entry string) (expiresAt int64, ok bool) {
	if len(entry) < 2 || entry[0] != kindExpiringValue {
		return 0, false
	}
	at, _, found := strings.Cut(entry[1:], ",")
	if !found {
		return 0, false
	}
	return parseExpiry(at)
}

// parseExpiry parses a stored expiry, in server Unix ms.
func parseExpiry(at string) (int64, bool) {
	n, err := strconv.ParseInt(at, 10, 64)
	return n, err == nil && n > 0 && n <= maxExpiresAt
}

// errorMarker is the payload of a kindError entry.
type errorMarker struct {
	Message string `json:"m"`
	Code    string `json:"c,omitempty"` // Error() of the matching sentinel
}

// builtinSharedErrors are the sentinels every Map carries across
// processes, after Options.SharedErrors.
var builtinSharedErrors = []error{ErrNotFound, ErrValueTooLarge, ErrEncode, context.DeadlineExceeded, context.Canceled}

// maxErrorMessage bounds the message an error marker carries, so that a
// loader error with a huge text (a dumped response body) cannot make a
// huge marker.
const maxErrorMessage = 4 << 10

// encodeErrorMarker returns the kindError entry for a loader error.
func encodeErrorMarker(sentinels []error, err error) string {
	m := errorMarker{Message: err.Error()}
	if len(m.Message) > maxErrorMessage {
		m.Message = strings.ToValidUTF8(m.Message[:maxErrorMessage], "") + "… (truncated)"
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			m.Code = s.Error()
			break
		}
	}
	b, _ := json.Marshal(m) // two strings: cannot fail
	return string(kindError) + string(b)
}

// decodeErrorMarker turns a kindError payload back into a *SharedError.
func decodeErrorMarker(sentinels []error, key, payload string) error {
	var m errorMarker
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		return &DecodeError{Key: key, Err: fmt.Errorf("error marker: %w", err)}
	}
	e := &SharedError{Key: key, Message: m.Message}
	if m.Code != "" {
		for _, s := range sentinels {
			if s.Error() == m.Code {
				e.err = s
				break
			}
		}
	}
	return e
}
