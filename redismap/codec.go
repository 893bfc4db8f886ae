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
// The kind byte versions the format: kindTimedValue is what this version
// writes for a value; kindValue, the form before it, is still read.
const (
	kindTimedValue = 't' // "<TTL ms>,<load ms>;" then the codec's encoding (see valueMeta)
	kindValue      = 'v' // the codec's encoding of the value, with no metadata
	kindNegative   = 'n' // the loader said ErrNotFound; no payload
	kindError      = 'e' // a loader error marker: JSON errorMarker
)

// valueMeta is what a stored value carries besides itself, for refresh
// before expiry: the TTL it was stored with (so that its age is that TTL
// less its remaining TTL, both read from the server's clock) and how long
// its loader took (0 for a Store).
type valueMeta struct {
	ttl   time.Duration
	load  time.Duration
	timed bool // false: a value of the older form, without metadata
}

// timedValueHeader returns the header of a kindTimedValue entry.
func timedValueHeader(ttl, load time.Duration) string {
	return string(kindTimedValue) + strconv.FormatInt(ttl.Milliseconds(), 10) + "," +
		strconv.FormatInt(load.Milliseconds(), 10) + ";"
}

// parseTimedValue splits a kindTimedValue payload (after the kind byte)
// into its metadata and the codec's encoding.
func parseTimedValue(payload string) (meta valueMeta, data string, err error) {
	header, data, ok := strings.Cut(payload, ";")
	ttl, load, ok2 := strings.Cut(header, ",")
	if !ok || !ok2 {
		return meta, "", errors.New("timed value without its header")
	}
	t, err1 := strconv.ParseInt(ttl, 10, 64)
	l, err2 := strconv.ParseInt(load, 10, 64)
	if err1 != nil || err2 != nil || t < 0 || l < 0 {
		return meta, "", fmt.Errorf("timed value with a bad header %q", header)
	}
	return valueMeta{ttl: time.Duration(t) * time.Millisecond, load: time.Duration(l) * time.Millisecond, timed: true}, data, nil
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
