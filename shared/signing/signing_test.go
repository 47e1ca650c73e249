package signing_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/signing"
)

// The published Standard Webhooks test vector.
const (
	swSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	swMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	swTimestamp = 1614265330
	swPayload   = `{"test": 2432232314}`
	swSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func mustResolve(t testing.TB, b *signing.Block) signing.Scheme {
	t.Helper()
	s, err := signing.Resolve(b)
	require.NoError(t, err)
	return s
}

func mustKey(t *testing.T, secret string) []byte {
	t.Helper()
	k, err := signing.Key(secret)
	require.NoError(t, err)
	return k
}

func TestSign_StandardWebhooksVector(t *testing.T) {
	t.Parallel()

	h := signing.Sign(signing.Standard, swMsgID, time.Unix(swTimestamp, 0), []byte(swPayload),
		[][]byte{mustKey(t, swSecret)})
	require.Equal(t, http.Header{
		"Webhook-Signature": {swSignature},
		"Webhook-Timestamp": {"1614265330"},
	}, h)
}

func TestVerify_StandardWebhooksVector(t *testing.T) {
	t.Parallel()

	h := http.Header{}
	h.Set("webhook-id", swMsgID)
	h.Set("webhook-timestamp", strconv.Itoa(swTimestamp))
	h.Set("webhook-signature", swSignature)
	now := time.Unix(swTimestamp, 0).Add(time.Minute)
	require.NoError(t, signing.Verify(signing.Standard, h, []byte(swPayload), [][]byte{mustKey(t, swSecret)}, 0, now))

	// Another version's signature beside ours is ignored, ours still verifies.
	h.Set("webhook-signature", "v1a,AAAA "+swSignature)
	require.NoError(t, signing.Verify(signing.Standard, h, []byte(swPayload), [][]byte{mustKey(t, swSecret)}, 0, now))
}

type vector struct {
	Secret        string           `json:"secret"`
	SignedPayload signing.Payload  `json:"signedPayload"`
	Encoding      signing.Encoding `json:"encoding"`
	ID            string           `json:"id"`
	Timestamp     int64            `json:"timestamp"`
	Body          string           `json:"body"`
	Signature     string           `json:"signature"`
}

func TestSign_GoldenVectors(t *testing.T) {
	t.Parallel()

	data, err := os.ReadFile(filepath.Join("testdata", "vectors.json"))
	require.NoError(t, err)
	var file struct {
		Vectors []vector `json:"vectors"`
	}
	require.NoError(t, json.Unmarshal(data, &file))
	require.Len(t, file.Vectors, 12)

	for _, v := range file.Vectors {
		t.Run(v.Secret[:6]+"/"+string(v.SignedPayload)+"/"+string(v.Encoding), func(t *testing.T) {
			t.Parallel()
			s := mustResolve(t, &signing.Block{
				Header: "x-outhook-signature", TimestampHeader: "x-outhook-timestamp",
				SignedPayload: v.SignedPayload, Encoding: v.Encoding,
			})
			key := mustKey(t, v.Secret)
			ts := time.Unix(v.Timestamp, 0)
			h := signing.Sign(s, v.ID, ts, []byte(v.Body), [][]byte{key})
			require.Equal(t, v.Signature, h.Get("x-outhook-signature"))
			require.Equal(t, strconv.FormatInt(v.Timestamp, 10), h.Get("x-outhook-timestamp"))

			h.Set(signing.IDHeader, v.ID)
			require.NoError(t, signing.Verify(s, h, []byte(v.Body), [][]byte{key}, time.Minute, ts))
		})
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		block *signing.Block
		want  signing.Scheme
	}{
		{"no block", nil, signing.Standard},
		{"empty block", &signing.Block{}, signing.Standard},
		{"algorithm only", &signing.Block{Algorithm: "hmac-sha256"}, signing.Standard},
		{"header only: the body alone, base64", &signing.Block{Header: "x-sig"},
			signing.Scheme{Header: "X-Sig", SignedPayload: "rawBody", Encoding: "base64"}},
		{"header and encoding", &signing.Block{Header: "x-sig", Encoding: "hex"},
			signing.Scheme{Header: "X-Sig", SignedPayload: "rawBody", Encoding: "hex"}},
		{"a timestamp header binds id and timestamp", &signing.Block{Header: "x-sig", TimestampHeader: "x-ts"},
			signing.Scheme{Header: "X-Sig", TimestampHeader: "X-Ts", SignedPayload: "id.timestamp.rawBody", Encoding: "base64"}},
		{"rawBody with a timestamp header", &signing.Block{Header: "x-sig", TimestampHeader: "x-ts", SignedPayload: "rawBody", Encoding: "hex"},
			signing.Scheme{Header: "X-Sig", TimestampHeader: "X-Ts", SignedPayload: "rawBody", Encoding: "hex"}},
		{"timestamp.rawBody", &signing.Block{Header: "x-sig", TimestampHeader: "x-ts", SignedPayload: "timestamp.rawBody"},
			signing.Scheme{Header: "X-Sig", TimestampHeader: "X-Ts", SignedPayload: "timestamp.rawBody", Encoding: "base64"}},
		{"custom headers named like the standard ones", &signing.Block{Header: "webhook-signature", TimestampHeader: "webhook-timestamp", Algorithm: "hmac-sha256"},
			signing.Scheme{Header: "Webhook-Signature", TimestampHeader: "Webhook-Timestamp", SignedPayload: "id.timestamp.rawBody", Encoding: "base64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := mustResolve(t, tt.block)
			require.Equal(t, tt.want, got)
			if tt.block != nil && tt.block.Header != "" {
				// Resolving what a resolved scheme says gives the same scheme (the config writes it back).
				again := mustResolve(t, &signing.Block{Header: got.Header, TimestampHeader: got.TimestampHeader,
					SignedPayload: got.SignedPayload, Encoding: got.Encoding})
				require.Equal(t, got, again)
			}
		})
	}
}

func TestResolve_Invalid(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		block signing.Block
		want  []string // "field: message part", every problem reported
	}{
		{"encoding without header", signing.Block{Encoding: "hex"}, []string{"header: is required when"}},
		{"timestamp header without header", signing.Block{TimestampHeader: "x-ts"}, []string{"header: is required when"}},
		{"bad algorithm", signing.Block{Algorithm: "hmac-sha1"}, []string{`algorithm: "hmac-sha1" is not supported`}},
		{"bad header name", signing.Block{Header: "x sig"}, []string{"header: \"x sig\" is not a valid HTTP header name"}},
		{"bad timestamp header name", signing.Block{Header: "x-sig", TimestampHeader: "x:ts"},
			[]string{"timestampHeader: \"x:ts\" is not a valid HTTP header name"}},
		{"reserved header", signing.Block{Header: "Webhook-Id"}, []string{"header: \"Webhook-Id\" is set by the sender"}},
		{"reserved timestamp header", signing.Block{Header: "x-sig", TimestampHeader: "content-type"},
			[]string{"timestampHeader: \"content-type\" is set by the sender"}},
		{"same headers", signing.Block{Header: "x-sig", TimestampHeader: "X-Sig"}, []string{"timestampHeader: must differ from header"}},
		{"bad encoding", signing.Block{Header: "x-sig", Encoding: "base32"}, []string{`encoding: "base32" is not supported`}},
		{"bad payload", signing.Block{Header: "x-sig", SignedPayload: "body"}, []string{`signedPayload: "body" is not supported`}},
		{"id.timestamp.rawBody without timestamp header", signing.Block{Header: "x-sig", SignedPayload: "id.timestamp.rawBody"},
			[]string{"timestampHeader: is required when signedPayload is id.timestamp.rawBody"}},
		{"timestamp.rawBody without timestamp header", signing.Block{Header: "x-sig", SignedPayload: "timestamp.rawBody"},
			[]string{"timestampHeader: is required when signedPayload is timestamp.rawBody"}},
		{"several problems", signing.Block{Header: "x sig", Encoding: "base32", Algorithm: "md5"},
			[]string{"algorithm:", "header:", "encoding:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := signing.Resolve(&tt.block)
			require.Error(t, err)
			require.Equal(t, signing.Scheme{}, s, "no usable scheme from an invalid block")
			var fe *signing.FieldError
			require.ErrorAs(t, err, &fe)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
			require.Len(t, strings.Split(err.Error(), "\n"), len(tt.want))
		})
	}
}

func TestScheme_Headers(t *testing.T) {
	t.Parallel()

	require.Equal(t, []string{"Webhook-Signature", "Webhook-Timestamp"}, signing.Standard.Headers())
	require.Equal(t, []string{"X-Sig"}, mustResolve(t, &signing.Block{Header: "x-sig", SignedPayload: "rawBody"}).Headers())

	// Headers names exactly what Sign sets.
	s := mustResolve(t, &signing.Block{Header: "x-sig", TimestampHeader: "x-ts"})
	h := signing.Sign(s, "id", time.Unix(1, 0), nil, [][]byte{[]byte("k")})
	var names []string
	for n := range h {
		names = append(names, n)
	}
	require.ElementsMatch(t, s.Headers(), names)
}

func TestKey(t *testing.T) {
	t.Parallel()

	k, err := signing.Key("whsec_AAEC")
	require.NoError(t, err)
	require.Equal(t, []byte{0, 1, 2}, k)
	k, err = signing.Key("whcms_/w==")
	require.NoError(t, err)
	require.Equal(t, []byte{0xff}, k)
	k, err = signing.Key("plain secret")
	require.NoError(t, err)
	require.Equal(t, []byte("plain secret"), k)
	k, err = signing.Key("whsek_AAEC")
	require.NoError(t, err)
	require.Equal(t, []byte("whsek_AAEC"), k)

	for _, bad := range []string{"", "whsec_", "whsec_not*base64!", "whcms_AAE"} {
		_, err := signing.Key(bad)
		require.ErrorIs(t, err, signing.ErrInvalidSecret, bad)
		if len(bad) > len("whsec_") {
			require.NotContains(t, err.Error(), bad[len("whsec_"):])
		}
	}
}

func TestSign_Rotation(t *testing.T) {
	t.Parallel()

	oldKey, newKey := []byte("old-secret"), []byte("new-secret")
	for _, s := range []signing.Scheme{
		signing.Standard,
		mustResolve(t, &signing.Block{Header: "x-sig", TimestampHeader: "x-ts", Encoding: "hex"}),
	} {
		ts := time.Unix(1700000000, 0)
		body := []byte(`{"a":1}`)
		h := signing.Sign(s, "msg_1", ts, body, [][]byte{newKey, oldKey})
		sigs := strings.Split(h.Get(s.Header), " ")
		require.Len(t, sigs, 2)
		require.Equal(t, signing.Sign(s, "msg_1", ts, body, [][]byte{newKey}).Get(s.Header), sigs[0])
		require.Equal(t, signing.Sign(s, "msg_1", ts, body, [][]byte{oldKey}).Get(s.Header), sigs[1])

		h.Set(signing.IDHeader, "msg_1")
		require.NoError(t, signing.Verify(s, h, body, [][]byte{oldKey}, time.Minute, ts))
		require.NoError(t, signing.Verify(s, h, body, [][]byte{newKey}, time.Minute, ts))
		require.NoError(t, signing.Verify(s, h, body, [][]byte{[]byte("other"), newKey}, time.Minute, ts))
		require.ErrorIs(t, signing.Verify(s, h, body, [][]byte{[]byte("other")}, time.Minute, ts),
			signing.ErrSignatureMismatch)
	}
}

func TestSign_NoKeys(t *testing.T) {
	t.Parallel()

	require.Empty(t, signing.Sign(signing.Standard, "msg_1", time.Unix(1, 0), []byte("x"), nil))
}

func TestVerify_Errors(t *testing.T) {
	t.Parallel()

	key := []byte("secret-key-value")
	ts := time.Unix(1700000000, 0)
	body := []byte(`{"ok":true}`)
	custom := mustResolve(t, &signing.Block{Header: "x-sig", TimestampHeader: "x-ts", SignedPayload: "timestamp.rawBody"})
	rawOnly := mustResolve(t, &signing.Block{Header: "x-sig", SignedPayload: "rawBody", Encoding: "hex"})

	signed := func(s signing.Scheme) http.Header {
		h := signing.Sign(s, "msg_1", ts, body, [][]byte{key})
		h.Set(signing.IDHeader, "msg_1")
		return h
	}
	tests := []struct {
		name   string
		scheme signing.Scheme
		header func() http.Header
		body   []byte
		keys   [][]byte
		now    time.Time
		want   error
	}{
		{"no keys", signing.Standard, func() http.Header { return signed(signing.Standard) }, body, nil, ts,
			signing.ErrNoKeys},
		{"no signature", signing.Standard, func() http.Header {
			h := signed(signing.Standard)
			h.Del(signing.SignatureHeader)
			return h
		}, body, [][]byte{key}, ts, signing.ErrNoSignature},
		{"blank signature", signing.Standard, func() http.Header {
			h := signed(signing.Standard)
			h.Set(signing.SignatureHeader, "  ")
			return h
		}, body, [][]byte{key}, ts, signing.ErrNoSignature},
		{"no timestamp", signing.Standard, func() http.Header {
			h := signed(signing.Standard)
			h.Del(signing.TimestampHeader)
			return h
		}, body, [][]byte{key}, ts, signing.ErrMissingTimestamp},
		{"timestamp not a number", custom, func() http.Header {
			h := signed(custom)
			h.Set("x-ts", "2023-11-14T22:13:20Z")
			return h
		}, body, [][]byte{key}, ts, signing.ErrInvalidTimestamp},
		{"stale", signing.Standard, func() http.Header { return signed(signing.Standard) }, body, [][]byte{key},
			ts.Add(5*time.Minute + time.Second), signing.ErrTimestampTolerance},
		{"future", custom, func() http.Header { return signed(custom) }, body, [][]byte{key},
			ts.Add(-5*time.Minute - time.Second), signing.ErrTimestampTolerance},
		{"no id", signing.Standard, func() http.Header {
			h := signed(signing.Standard)
			h.Del(signing.IDHeader)
			return h
		}, body, [][]byte{key}, ts, signing.ErrMissingID},
		{"other id", signing.Standard, func() http.Header {
			h := signed(signing.Standard)
			h.Set(signing.IDHeader, "msg_2")
			return h
		}, body, [][]byte{key}, ts, signing.ErrSignatureMismatch},
		{"tampered body", signing.Standard, func() http.Header { return signed(signing.Standard) },
			[]byte(`{"ok":false}`), [][]byte{key}, ts, signing.ErrSignatureMismatch},
		{"tampered timestamp", custom, func() http.Header {
			h := signed(custom)
			h.Set("x-ts", strconv.FormatInt(ts.Unix()+1, 10))
			return h
		}, body, [][]byte{key}, ts, signing.ErrSignatureMismatch},
		{"wrong key", rawOnly, func() http.Header { return signed(rawOnly) }, body, [][]byte{[]byte("nope")}, ts,
			signing.ErrSignatureMismatch},
		{"unversioned standard signature", signing.Standard, func() http.Header {
			h := signed(signing.Standard)
			h.Set(signing.SignatureHeader, strings.TrimPrefix(h.Get(signing.SignatureHeader), "v1,"))
			return h
		}, body, [][]byte{key}, ts, signing.ErrSignatureMismatch},
		{"garbage signature", rawOnly, func() http.Header {
			h := signed(rawOnly)
			h.Set("x-sig", "zz-not-hex")
			return h
		}, body, [][]byte{key}, ts, signing.ErrSignatureMismatch},
		{"truncated signature", rawOnly, func() http.Header {
			h := signed(rawOnly)
			h.Set("x-sig", h.Get("x-sig")[:32])
			return h
		}, body, [][]byte{key}, ts, signing.ErrSignatureMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := tt.header()
			err := signing.Verify(tt.scheme, h, tt.body, tt.keys, 0, tt.now)
			require.ErrorIs(t, err, tt.want)
			require.NotContains(t, err.Error(), string(key))
			for _, v := range h.Values(tt.scheme.Header) {
				if v != "" {
					require.NotContains(t, err.Error(), v)
				}
			}
		})
	}
}

func TestVerify_Tolerance(t *testing.T) {
	t.Parallel()

	key := []byte("k")
	ts := time.Unix(1700000000, 0)
	h := signing.Sign(signing.Standard, "msg_1", ts, nil, [][]byte{key})
	h.Set(signing.IDHeader, "msg_1")
	require.NoError(t, signing.Verify(signing.Standard, h, nil, [][]byte{key}, 0, ts.Add(5*time.Minute)))
	require.NoError(t, signing.Verify(signing.Standard, h, nil, [][]byte{key}, 0, ts.Add(-5*time.Minute)))
	require.NoError(t, signing.Verify(signing.Standard, h, nil, [][]byte{key}, time.Hour, ts.Add(time.Hour)))
	require.ErrorIs(t, signing.Verify(signing.Standard, h, nil, [][]byte{key}, time.Second, ts.Add(2*time.Second)),
		signing.ErrTimestampTolerance)

	// rawBody with no timestamp header: no timestamp to check.
	raw := mustResolve(t, &signing.Block{Header: "x-sig", SignedPayload: "rawBody"})
	h = signing.Sign(raw, "msg_1", ts, []byte("b"), [][]byte{key})
	require.NoError(t, signing.Verify(raw, h, []byte("b"), [][]byte{key}, time.Second, ts.Add(1000*time.Hour)))
}

func FuzzSignVerify(f *testing.F) {
	f.Add(uint8(0), "msg_1", int64(1614265330), []byte(`{"test": 2432232314}`), []byte("key"))
	f.Add(uint8(3), "", int64(0), []byte{}, []byte{})
	f.Add(uint8(5), "a.b", int64(-1), []byte("\x00\xff"), []byte("k2"))
	schemes := []signing.Scheme{signing.Standard}
	for _, p := range []signing.Payload{"rawBody", "timestamp.rawBody", "id.timestamp.rawBody"} {
		for _, e := range []signing.Encoding{"hex", "base64"} {
			schemes = append(schemes, mustResolve(f, &signing.Block{
				Header: "x-sig", TimestampHeader: "x-ts", SignedPayload: p, Encoding: e,
			}))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, msgID string, unix int64, body, key []byte) {
		if msgID == "" || strings.ContainsAny(msgID, "\r\n") {
			msgID = "msg_fuzz"
		}
		s := schemes[int(which)%len(schemes)]
		ts := time.Unix(unix, 0)
		h := signing.Sign(s, msgID, ts, body, [][]byte{[]byte("other"), key})
		h.Set(signing.IDHeader, msgID)
		if err := signing.Verify(s, h, body, [][]byte{key}, time.Second, ts); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		tampered := append([]byte{'x'}, body...)
		if err := signing.Verify(s, h, tampered, [][]byte{key}, time.Second, ts); !errors.Is(err, signing.ErrSignatureMismatch) {
			t.Fatalf("tampered body: got %v", err)
		}
	})
}

func TestVerify_SeveralHeaderLines(t *testing.T) {
	t.Parallel()

	ts := time.Unix(1700000000, 0)
	h := signing.Sign(signing.Standard, "msg_1", ts, []byte("b"), [][]byte{[]byte("k")})
	h.Set(signing.IDHeader, "msg_1")
	sig := h.Get(signing.SignatureHeader)
	h.Set(signing.SignatureHeader, "v1,AAAA")
	h.Add(signing.SignatureHeader, sig)
	require.NoError(t, signing.Verify(signing.Standard, h, []byte("b"), [][]byte{[]byte("k")}, 0, ts))
}

func BenchmarkSign(b *testing.B) {
	body := []byte(strings.Repeat(`{"invoiceId":"inv_42","amount":1999}`, 30)) // ~1 KiB
	keys := [][]byte{[]byte("current-key-32-bytes-long-------"), []byte("previous-key-32-bytes-long------")}
	ts := time.Unix(1700000000, 0)
	for range b.N {
		signing.Sign(signing.Standard, "whevt_1", ts, body, keys)
	}
}

func BenchmarkVerify(b *testing.B) {
	body := []byte(strings.Repeat(`{"invoiceId":"inv_42","amount":1999}`, 30))
	key := []byte("current-key-32-bytes-long-------")
	ts := time.Unix(1700000000, 0)
	h := signing.Sign(signing.Standard, "whevt_1", ts, body, [][]byte{key})
	h.Set(signing.IDHeader, "whevt_1")
	for range b.N {
		if err := signing.Verify(signing.Standard, h, body, [][]byte{key}, 0, ts); err != nil {
			b.Fatal(err)
		}
	}
}
