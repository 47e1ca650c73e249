package signing_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/outhook/outhook/shared/config"
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
	s := signing.SchemeFor(&config.Signing{
		Header:          "x-outhook-signature",
		TimestampHeader: "x-outhook-timestamp",
		SignedPayload:   "timestamp.rawBody",
		Encoding:        "hex",
	})
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
