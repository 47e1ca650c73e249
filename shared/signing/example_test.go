package signing_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/outhook/outhook/shared/signing"
)

// A receiver verifies a Standard Webhooks delivery with the secret it was given.
func ExampleVerify() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"test": 2432232314}`)
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")

	key, err := signing.Key(secret)
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Unix(1614265330, 0).Add(30 * time.Second)
	fmt.Println(signing.Verify(signing.Standard, h, body, [][]byte{key}, 5*time.Minute, now))
	fmt.Println(signing.Verify(signing.Standard, h, []byte(`{"test": 1}`), [][]byte{key}, 5*time.Minute, now))
	// Output:
	// <nil>
	// signing: no signature matches
}

// An endpoint with a custom signing block, during a rotation window: one signature per key.
func ExampleSign() {
	s, err := signing.Resolve(&signing.Block{
		Header:          "x-outhook-signature",
		TimestampHeader: "x-outhook-timestamp",
		SignedPayload:   signing.PayloadTimestampRawBody,
		Encoding:        signing.EncodingHex,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	h := signing.Sign(s, "whevt_1", time.Unix(1767225600, 0), []byte(`{"a":1}`),
		[][]byte{[]byte("new-secret"), []byte("old-secret")})
	fmt.Println(s.Headers())
	fmt.Println(h.Get("x-outhook-timestamp"))
	fmt.Println(len(h.Get("x-outhook-signature")))
	// Output:
	// [X-Outhook-Signature X-Outhook-Timestamp]
	// 1767225600
	// 129
}

// The defaults of a signing block: a header alone signs the raw body, base64; a block with no header is
// the Standard Webhooks scheme.
func ExampleResolve() {
	for _, b := range []*signing.Block{
		nil,
		{Header: "x-signature"},
		{Header: "x-signature", TimestampHeader: "x-timestamp", Encoding: signing.EncodingHex},
		{Header: "x-signature", SignedPayload: signing.PayloadTimestampRawBody},
	} {
		s, err := signing.Resolve(b)
		if err != nil {
			fmt.Println("invalid:", err)
			continue
		}
		fmt.Println(s.Headers(), s.SignedPayload, s.Encoding)
	}
	// Output:
	// [Webhook-Signature Webhook-Timestamp] id.timestamp.rawBody base64
	// [X-Signature] rawBody base64
	// [X-Signature X-Timestamp] id.timestamp.rawBody hex
	// invalid: timestampHeader: is required when signedPayload is timestamp.rawBody
}
