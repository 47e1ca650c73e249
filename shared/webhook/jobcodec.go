package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// A job's wire format is JSON, as encoding/json writes the job struct: SQS carries text, and the queues of
// deployed stacks hold messages written that way. Every delivery writes one job and reads one, and
// encoding/json's reflection made that a few percent of the local server's CPU, so both are done by hand
// here: encodeJob writes the bytes json.Marshal writes, and parseJob reads what this code and json.Marshal
// write. What parseJob does not expect (another spelling of a key, an unknown field, an escape in a string,
// a null) it leaves to encoding/json, so a job reads the same either way (TestJobCodec_*, FuzzParseJob).

// encodeJob is json.Marshal(j.wire()).
func encodeJob(j job) ([]byte, error) {
	j = j.wire()
	b := make([]byte, 0, 256+len(j.payload()))
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(j.V), 10)
	b = appendField(b, "set", j.Set)
	b = appendField(b, "eventId", j.EventID)
	b = appendField(b, "endpoint", j.Endpoint)
	if j.User != "" {
		b = appendField(b, "user", j.User)
	}
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(j.Attempt), 10)
	b = appendField(b, "attemptId", j.AttemptID)
	b = append(b, `,"round":`...)
	b = strconv.AppendInt(b, int64(j.Round), 10)
	var err error
	if b, err = appendTime(append(b, `,"dueAt":`...), j.DueAt); err != nil {
		return nil, err
	}
	if e := j.Event; e != nil {
		b = append(b, `,"event":{"type":`...)
		b = appendString(b, e.Type)
		if b, err = appendRaw(append(b, `,"payload":`...), e.Payload); err != nil {
			return nil, err
		}
		if e.UserID != "" {
			b = appendField(b, "userId", e.UserID)
		}
		if b, err = appendTime(append(b, `,"createdAt":`...), e.CreatedAt); err != nil {
			return nil, err
		}
		if b, err = appendTime(append(b, `,"expiresAt":`...), e.ExpiresAt); err != nil {
			return nil, err
		}
		b = append(b, '}')
	}
	if !j.Registered.IsZero() {
		if b, err = appendTime(append(b, `,"registered":`...), j.Registered); err != nil {
			return nil, err
		}
	}
	if j.Release {
		b = append(b, `,"release":true`...)
	}
	return append(b, '}'), nil
}

func (j job) payload() []byte {
	if j.Event == nil {
		return nil
	}
	return j.Event.Payload
}

// appendField appends `,"name":` and value as a JSON string; name needs no escaping.
func appendField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

// appendString appends s as json.Marshal writes it: as it is when no character needs escaping (printable
// ASCII other than the quote, the backslash and the HTML characters json.Marshal escapes), else through
// json.Marshal.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			quoted, _ := json.Marshal(s) // a string always encodes
			return append(b, quoted...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendRaw appends raw JSON (valid: send checked it) as json.Marshal writes a json.RawMessage (compacted,
// HTML characters escaped): as it is when it holds no whitespace and nothing to escape (what send stores),
// else through json.Marshal.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, error) {
	plain := len(raw) > 0
	for _, c := range raw {
		// 0xe2 begins U+2028 and U+2029, which json.Marshal escapes.
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '<' || c == '>' || c == '&' || c == 0xe2 {
			plain = false
			break
		}
	}
	if plain {
		return append(b, raw...), nil
	}
	out, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("encode job payload: %w", err)
	}
	return append(b, out...), nil
}

// appendTime appends t as json.Marshal writes a time.Time.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, fmt.Errorf("encode job time: %w", err)
	}
	return append(b, '"'), nil
}

// parseJob reads body as json.Unmarshal would into a job. ok is false when body holds something it leaves to
// encoding/json (which then reads it, or reports why it cannot).
func parseJob(body []byte) (j job, ok bool) {
	p := jobParser{b: body}
	ok = p.object(func(key []byte) bool {
		switch string(key) {
		case "v":
			return p.int(&j.V)
		case "set":
			return p.string(&j.Set)
		case "eventId":
			return p.string(&j.EventID)
		case "endpoint":
			return p.string(&j.Endpoint)
		case "user":
			return p.string(&j.User)
		case "attempt":
			return p.int(&j.Attempt)
		case "attemptId":
			return p.string(&j.AttemptID)
		case "round":
			return p.int(&j.Round)
		case "dueAt":
			return p.time(&j.DueAt)
		case "registered":
			return p.time(&j.Registered)
		case "release":
			return p.bool(&j.Release)
		case "event":
			if j.Event == nil {
				j.Event = &jobEvent{}
			}
			e := j.Event
			return p.object(func(key []byte) bool {
				switch string(key) {
				case "type":
					return p.string(&e.Type)
				case "payload":
					return p.raw(&e.Payload)
				case "userId":
					return p.string(&e.UserID)
				case "createdAt":
					return p.time(&e.CreatedAt)
				case "expiresAt":
					return p.time(&e.ExpiresAt)
				}
				return false
			})
		}
		return false
	})
	p.space()
	return j, ok && p.i == len(p.b)
}

// jobParser reads the JSON of a job from b at i. Each method reads one value and reports false for anything
// it does not read exactly as encoding/json would.
type jobParser struct {
	b []byte
	i int
}

func (p *jobParser) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

// byte reads c, after whitespace.
func (p *jobParser) byte(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// object reads an object, calling field for each key with the parser at its value.
func (p *jobParser) object(field func(key []byte) bool) bool {
	if !p.byte('{') {
		return false
	}
	if p.byte('}') {
		return true
	}
	for {
		key, ok := p.str()
		if !ok || !p.byte(':') || !field(key) {
			return false
		}
		if p.byte('}') {
			return true
		}
		if !p.byte(',') {
			return false
		}
	}
}

// str reads a string without escapes or control characters, in valid UTF-8, and returns its contents.
func (p *jobParser) str() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start, ascii := p.i, true
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, ascii || utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, false
}

func (p *jobParser) string(dst *string) bool {
	s, ok := p.str()
	*dst = string(s)
	return ok
}

// int reads an integer written without fraction or exponent, of at most 18 digits.
func (p *jobParser) int(dst *int) bool {
	p.space()
	neg := p.i < len(p.b) && p.b[p.i] == '-'
	if neg {
		p.i++
	}
	start, v := p.i, 0
	for ; p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9'; p.i++ {
		v = 10*v + int(p.b[p.i]-'0')
	}
	n := p.i - start
	if n == 0 || n > 18 || n > 1 && p.b[start] == '0' {
		return false
	}
	if p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return false
	}
	if neg {
		v = -v
	}
	*dst = v
	return true
}

func (p *jobParser) bool(dst *bool) bool {
	p.space()
	switch {
	case bytes.HasPrefix(p.b[p.i:], []byte("true")):
		*dst, p.i = true, p.i+4
	case bytes.HasPrefix(p.b[p.i:], []byte("false")):
		*dst, p.i = false, p.i+5
	default:
		return false
	}
	return true
}

// time reads a string as time.Time's UnmarshalJSON does, which is what encoding/json calls.
func (p *jobParser) time(dst *time.Time) bool {
	p.space()
	start := p.i
	if _, ok := p.str(); !ok {
		return false
	}
	return dst.UnmarshalJSON(p.b[start:p.i]) == nil
}

// raw reads any valid JSON value other than null and keeps a copy of its bytes, as json.RawMessage does.
func (p *jobParser) raw(dst *json.RawMessage) bool {
	p.space()
	start := p.i
	if !p.skip() || bytes.Equal(p.b[start:p.i], []byte("null")) || !json.Valid(p.b[start:p.i]) {
		return false
	}
	*dst = bytes.Clone(p.b[start:p.i])
	return true
}

// skip moves past one value (checked by json.Valid afterwards): to the end of its string, or of the object
// or array it opens, or to the next delimiter.
func (p *jobParser) skip() bool {
	depth := 0
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '"':
			p.i++
			for p.i < len(p.b) && p.b[p.i] != '"' {
				if p.b[p.i] == '\\' {
					p.i++
				}
				p.i++
			}
			if p.i >= len(p.b) {
				return false
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return true
			}
			depth--
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return true
			}
		}
		p.i++
		if depth == 0 && p.i > 0 && (p.b[p.i-1] == '}' || p.b[p.i-1] == ']' || p.b[p.i-1] == '"') {
			return true
		}
	}
	return depth == 0
}
