package verify_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/signing"
	"github.com/outhook/outhook/shared/verify"
)

var (
	now    = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	body   = []byte(`{"id":"whevt_1","type":"invoice.paid","timestamp":"2026-11-27T12:00:00Z","data":{"invoiceId":"in_1"}}`)
	oldKey = []byte("0123456789abcdef0123456789abcdef")
	newKey = []byte("fedcba9876543210fedcba9876543210")
)

const (
	oldSecret = "whcms_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // base64 of oldKey
	newSecret = "whsec_ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=" // base64 of newKey
)

// signed returns headers as outhook sends them: webhook-id plus the scheme's signature headers.
func signed(t *testing.T, sg *signing.Block, at time.Time, keys ...[]byte) http.Header {
	t.Helper()
	scheme, err := signing.Resolve(sg)
	require.NoError(t, err)
	h := signing.Sign(scheme, "whevt_1", at, body, keys)
	h.Set("webhook-id", "whevt_1")
	return h
}

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestPayload_StandardWebhooksPublishedVector(t *testing.T) {
	t.Parallel()
	// The test vector of the Standard Webhooks specification's libraries.
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	opts := verify.Options{Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, Now: at(time.Unix(1614265330, 0))}
	require.NoError(t, verify.Payload(h, []byte(`{"test": 2432232314}`), opts))
	require.ErrorIs(t, verify.Payload(h, []byte(`{"test": 2432232315}`), opts), verify.ErrNoMatch)
}

func TestPayload_Schemes(t *testing.T) {
	t.Parallel()
	for name, sg := range map[string]*signing.Block{
		"standard":                    nil,
		"hex timestamp.rawBody":       {Header: "x-partner-signature", TimestampHeader: "x-partner-timestamp", SignedPayload: "timestamp.rawBody", Encoding: "hex"},
		"hex rawBody":                 {Header: "x-crm-signature", SignedPayload: "rawBody", Encoding: "hex"},
		"header only: rawBody base64": {Header: "x-sig"},
		"base64 id.timestamp.rawBody": {Header: "x-sig", TimestampHeader: "x-ts", SignedPayload: "id.timestamp.rawBody", Encoding: "base64"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := signed(t, sg, now, newKey)
			opts := verify.Options{Secrets: []string{newSecret}, Scheme: sg, Now: at(now.Add(4 * time.Minute))}
			require.NoError(t, verify.Payload(h, body, opts))

			tampered := bytes.Replace(body, []byte("in_1"), []byte("in_2"), 1)
			require.ErrorIs(t, verify.Payload(h, tampered, opts), verify.ErrNoMatch)

			opts.Secrets = []string{oldSecret}
			err := verify.Payload(h, body, opts)
			require.ErrorIs(t, err, verify.ErrNoMatch)
			var verr *verify.Error
			require.ErrorAs(t, err, &verr)
			require.NotContains(t, err.Error(), oldSecret)
		})
	}
}

func TestPayload_RotationEitherSecretVerifies(t *testing.T) {
	t.Parallel()
	h := signed(t, nil, now, newKey, oldKey)
	require.Len(t, strings.Fields(h.Get("webhook-signature")), 2)
	for _, s := range []string{oldSecret, newSecret} {
		require.NoError(t, verify.Payload(h, body, verify.Options{Secrets: []string{s}, Now: at(now)}))
	}
	// A receiver that holds both during its own roll-over verifies too.
	require.NoError(t, verify.Payload(signed(t, nil, now, oldKey), body, verify.Options{Secrets: []string{newSecret, oldSecret}, Now: at(now)}))
}

func TestPayload_Tolerance(t *testing.T) {
	t.Parallel()
	h := signed(t, nil, now, newKey)
	for _, tc := range []struct {
		now       time.Time
		tolerance time.Duration
		ok        bool
	}{
		{now.Add(5 * time.Minute), 0, true},
		{now.Add(5*time.Minute + time.Second), 0, false},
		{now.Add(-5*time.Minute - time.Second), 0, false}, // from the future
		{now.Add(time.Hour), 2 * time.Hour, true},
		{now.Add(30 * 24 * time.Hour), -1, true}, // age not checked
	} {
		err := verify.Payload(h, body, verify.Options{Secrets: []string{newSecret}, Tolerance: tc.tolerance, Now: at(tc.now)})
		if tc.ok {
			require.NoError(t, err, tc)
		} else {
			require.ErrorIs(t, err, verify.ErrTimestamp, tc)
		}
	}
	// Skipping the age check still checks that the timestamp is signed: a changed timestamp fails.
	h.Set("webhook-timestamp", "1")
	require.ErrorIs(t, verify.Payload(h, body, verify.Options{Secrets: []string{newSecret}, Tolerance: -1}), verify.ErrNoMatch)
}

func TestPayload_BadInput(t *testing.T) {
	t.Parallel()
	h := signed(t, nil, now, newKey)
	opts := verify.Options{Secrets: []string{newSecret}, Now: at(now)}

	err := verify.Payload(h, body, verify.Options{Now: at(now)})
	require.ErrorIs(t, err, verify.ErrNoSecret)

	err = verify.Payload(h, body, verify.Options{Secrets: []string{"whsec_!!not base64!!"}, Now: at(now)})
	require.ErrorIs(t, err, verify.ErrNoSecret)
	require.NotContains(t, err.Error(), "not base64")

	for _, header := range []string{"webhook-signature", "webhook-id"} {
		hh := h.Clone()
		hh.Del(header)
		require.ErrorIs(t, verify.Payload(hh, body, opts), verify.ErrMissingHeader, header)
	}
	hh := h.Clone()
	hh.Set("webhook-timestamp", "yesterday")
	require.ErrorIs(t, verify.Payload(hh, body, opts), verify.ErrTimestamp)
	hh.Del("webhook-timestamp")
	require.ErrorIs(t, verify.Payload(hh, body, opts), verify.ErrTimestamp)
}

func TestRequest_ReturnsAndRestoresTheBody(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodPost, "/hooks", bytes.NewReader(body))
	r.Header = signed(t, nil, now, newKey)
	got, err := verify.Request(r, verify.Options{Secrets: []string{newSecret}, Now: at(now)})
	require.NoError(t, err)
	require.Equal(t, body, got)
	again, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	require.Equal(t, body, again)

	big := httptest.NewRequest(http.MethodPost, "/hooks", bytes.NewReader(make([]byte, verify.MaxBodyBytes+1)))
	big.Header = r.Header
	_, err = verify.Request(big, verify.Options{Secrets: []string{newSecret}, Now: at(now)})
	require.ErrorIs(t, err, verify.ErrBodyUnreadable)
}

func TestPayload_InvalidScheme(t *testing.T) {
	t.Parallel()
	h := signed(t, nil, now, newKey)
	err := verify.Payload(h, body, verify.Options{Secrets: []string{newSecret}, Now: at(now),
		Scheme: &signing.Block{Header: "x-sig", SignedPayload: "timestamp.rawBody"}})
	require.ErrorIs(t, err, verify.ErrScheme)
	require.ErrorContains(t, err, "timestampHeader: is required when signedPayload is timestamp.rawBody")
}
