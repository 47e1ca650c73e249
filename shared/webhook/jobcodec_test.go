package webhook

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/store"
)

// codecJobs are jobs of every shape: each kind of job, with and without the optional fields, with strings and
// payloads that json.Marshal escapes or compacts.
func codecJobs() map[string]job {
	at := time.Date(2026, 12, 1, 17, 4, 5, 123_000_000, time.UTC)
	ev := func(payload string) *jobEvent {
		return &jobEvent{Type: "invoice.paid", Payload: json.RawMessage(payload), CreatedAt: at, ExpiresAt: at.Add(720 * time.Hour)}
	}
	base := job{V: jobVersion, Set: "billing", EventID: "whevt_01KB9Z3Q5G0000000000000000", Endpoint: "crm", Attempt: 1,
		AttemptID: "whatt_01KB9Z3Q5G0000000000000001", Round: 1, DueAt: at, Event: ev(`{"invoiceId":"inv_1","n":12}`)}
	jobs := map[string]job{"first job": base}
	with := func(name string, change func(j *job)) {
		j := base
		e := *base.Event
		j.Event = &e
		change(&j)
		jobs[name] = j
	}
	with("user endpoint", func(j *job) {
		j.User, j.Registered, j.Event.UserID = "alice@example.com", at.Add(-time.Hour), "alice@example.com"
	})
	with("without the event", func(j *job) { j.Event = nil })
	with("retry", func(j *job) { j.Attempt, j.Round, j.DueAt = 7, 3, at.Add(90*time.Second+456*time.Millisecond) })
	with("release", func(j *job) { *j = releaseJob(store.EndpointRef{Set: j.Set, UserID: "bob", Name: "hooks"}, at) })
	with("never expires", func(j *job) { j.Event.ExpiresAt = time.Time{} })
	with("other time zone", func(j *job) { j.DueAt = at.In(time.FixedZone("x", 3600)) })
	with("strings to escape", func(j *job) {
		j.Event.Type, j.Endpoint, j.Set = "a<b>&\"c\"\\\n\u2028é", "ép", "tab\tset"
	})
	with("payload with spaces", func(j *job) { j.Event.Payload = json.RawMessage(`{ "a" : [1, 2], "b": "x y" }`) })
	with("payload to escape", func(j *job) {
		j.Event.Payload = json.RawMessage(`{"html":"<a href=\"x\">&</a>","ls":"` + "\u2028" + `"}`)
	})
	with("payload not an object", func(j *job) { j.Event.Payload = json.RawMessage(`"just a string"`) })
	with("payload number", func(j *job) { j.Event.Payload = json.RawMessage(`-12.5e3`) })
	with("payload nested", func(j *job) { j.Event.Payload = json.RawMessage(`[{"a":{"b":[true,false,null]}},"}\"]"]`) })
	return jobs
}

// encodeJob writes what json.Marshal writes, byte for byte.
func TestJobCodec_EncodesAsJSONMarshal(t *testing.T) {
	t.Parallel()
	for name, j := range codecJobs() {
		want, err := json.Marshal(j.wire())
		require.NoError(t, err, name)
		got, err := encodeJob(j)
		require.NoError(t, err, name)
		require.Equal(t, string(want), string(got), name)
	}
}

// parseJob reads what json.Marshal writes (and so what encodeJob writes) exactly as json.Unmarshal does.
func TestJobCodec_ParsesWhatJSONMarshalWrites(t *testing.T) {
	t.Parallel()
	v0, err := os.ReadFile(filepath.Join("testdata", "job-v0.json"))
	require.NoError(t, err)
	bodies := map[string][]byte{"job-v0.json": v0}
	for name, j := range codecJobs() {
		body, err := json.Marshal(j.wire())
		require.NoError(t, err)
		if name == "strings to escape" {
			continue // escaped strings are left to encoding/json (below)
		}
		bodies[name] = body
	}
	for name, body := range bodies {
		got, ok := parseJob(body)
		require.True(t, ok, "%s: %s", name, body)
		var want job
		require.NoError(t, json.Unmarshal(body, &want))
		require.Equal(t, want, got, name)
	}
}

// What parseJob does not read exactly as encoding/json would, it leaves to it: decodeJob then reads it
// with json.Unmarshal, or refuses it as json.Unmarshal does.
func TestJobCodec_LeavesTheRestToEncodingJSON(t *testing.T) {
	t.Parallel()
	const valid = `"set":"s","eventId":"e","endpoint":"x","attempt":1,"attemptId":"a"`
	for name, body := range map[string]string{
		"an escaped string":      `{"v":1,` + valid + `,"user":"al\u0069ce"}`,
		"another key spelling":   `{"V":1,` + valid + `}`,
		"an unknown field":       `{"v":1,` + valid + `,"extra":{"a":[1]}}`,
		"a null":                 `{"v":null,` + valid + `}`,
		"a float":                `{"v":1,` + valid + `,"round":1.0}`,
		"an exponent":            `{"v":1,` + valid + `,"round":1e0}`,
		"a leading zero":         `{"v":01,` + valid + `}`,
		"invalid UTF-8":          `{"v":1,` + valid + `,"user":"` + "\xff" + `"}`,
		"a control character":    `{"v":1,` + valid + `,"user":"a` + "\x01" + `"}`,
		"trailing data":          `{"v":1,` + valid + `} {}`,
		"an invalid payload":     `{"v":1,` + valid + `,"event":{"type":"t","payload":{"a":}}}`,
		"a null payload":         `{"v":1,` + valid + `,"event":{"type":"t","payload":null}}`,
		"an unterminated string": `{"v":1,` + valid + `,"user":"alice`,
		"a bad time":             `{"v":1,` + valid + `,"dueAt":"yesterday"}`,
		"not an object":          `[1]`,
		"empty":                  ``,
	} {
		_, ok := parseJob([]byte(body))
		require.False(t, ok, name)
		var want job
		wantErr := json.Unmarshal([]byte(body), &want)
		got, err := decodeJob([]byte(body))
		if wantErr != nil {
			require.ErrorIs(t, err, errMalformedJob, name)
			continue
		}
		if err == nil {
			want.V = jobVersion
			if want.Round < 1 || want.Round > want.Attempt {
				want.Round = 1
			}
			require.Equal(t, want, got, name)
		}
	}
}

// FuzzParseJob: whatever parseJob reads, json.Unmarshal reads the same. (go test runs the seeds; go test
// -fuzz FuzzParseJob searches further.)
func FuzzParseJob(f *testing.F) {
	for _, j := range codecJobs() {
		body, err := json.Marshal(j.wire())
		require.NoError(f, err)
		f.Add(body)
	}
	f.Add([]byte(`{"v":1,"set":"s","eventId":"e","endpoint":"x","attempt":1,"attemptId":"a","event":{"payload":[1,{"a":"]"}]}}`))
	f.Add([]byte(` { "v" : 1 , "set" : "s" , "event" : { "payload" : "x" } } `))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := parseJob(body)
		if !ok {
			return
		}
		var want job
		require.NoError(t, json.Unmarshal(body, &want), "%q", body)
		require.Equal(t, want, got, "%q", body)
	})
}

// FuzzEncodeJob: encodeJob writes what json.Marshal writes, whatever the strings and the (valid) payload.
func FuzzEncodeJob(f *testing.F) {
	f.Add("invoice.paid", "alice", []byte(`{"a":1}`))
	f.Add("a<b>&\"\\\n\u2028é\x7f", "\xff", []byte(`{ "html" : "<&>\u2028" }`))
	f.Fuzz(func(t *testing.T, typ, user string, payload []byte) {
		if !json.Valid(payload) {
			return
		}
		j := codecJobs()["user endpoint"]
		j.Event.Type, j.Event.Payload, j.User = typ, payload, user
		want, err := json.Marshal(j.wire())
		require.NoError(t, err)
		got, err := encodeJob(j)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	})
}

// BenchmarkJobCodec compares the hand-written codec with encoding/json on a first job.
func BenchmarkJobCodec(b *testing.B) {
	j := codecJobs()["first job"]
	body, err := json.Marshal(j.wire())
	require.NoError(b, err)
	b.Run("encodeJob", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = encodeJob(j)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(j.wire())
		}
	})
	b.Run("decodeJob", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = decodeJob(body)
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var j job
			_ = json.Unmarshal(body, &j)
		}
	})
}

// deliveredBody writes what json.Marshal writes for the Standard Webhooks body.
func TestDeliveredBody_AsJSONMarshal(t *testing.T) {
	t.Parallel()
	for name, j := range codecJobs() {
		if j.Event == nil || j.Release {
			continue
		}
		ev := j.event()
		ev.CreatedAt = ev.CreatedAt.In(time.FixedZone("x", -7200)).Add(789 * time.Microsecond)
		want, err := json.Marshal(struct {
			ID        string          `json:"id"`
			Type      string          `json:"type"`
			Timestamp string          `json:"timestamp"`
			Data      json.RawMessage `json:"data"`
		}{ev.ID, ev.Type, ev.CreatedAt.UTC().Format(time.RFC3339Nano), ev.Payload})
		require.NoError(t, err)
		require.Equal(t, string(want), string(deliveredBody(ev)), name)
	}
}
