package verify_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/outhook/outhook/shared/signing"
	"github.com/outhook/outhook/shared/verify"
)

// A receiver verifies each delivery with the secret it was given (here a user's managed secret, as
// `outhook secrets get` shows it), then answers 204. outhook retries anything but a 2xx.
func Example() {
	secret := "whcms_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := verify.Request(r, verify.Options{Secrets: []string{secret}})
		if err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		var event struct {
			ID   string          `json:"id"`
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &event); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		// Deduplicate on event.ID (also in the webhook-id header): a delivery may arrive more than once.
		fmt.Println("received", event.Type, string(event.Data))
		w.WriteHeader(http.StatusNoContent)
	})

	// What outhook sends, signed with the same secret.
	body := `{"id":"whevt_1","type":"invoice.paid","timestamp":"2026-11-27T12:00:00Z","data":{"invoiceId":"in_1"}}`
	key, _ := signing.Key(secret)
	req := httptest.NewRequest(http.MethodPost, "/hooks", strings.NewReader(body))
	req.Header = signing.Sign(signing.Standard, "whevt_1", time.Now(), []byte(body), [][]byte{key})
	req.Header.Set("webhook-id", "whevt_1")
	rec := httptest.NewRecorder()
	receiver.ServeHTTP(rec, req)
	fmt.Println(rec.Code)

	// A forged request is refused.
	forged := httptest.NewRequest(http.MethodPost, "/hooks", strings.NewReader(strings.Replace(body, "in_1", "in_9", 1)))
	forged.Header = req.Header
	rec = httptest.NewRecorder()
	receiver.ServeHTTP(rec, forged)
	fmt.Println(rec.Code)

	// Output:
	// received invoice.paid {"invoiceId":"in_1"}
	// 204
	// 401
}

// An endpoint with a signing block in outhook's config: the receiver passes the same block, as written
// (empty fields take the sender's defaults: a header alone signs the raw body, base64).
func ExamplePayload_signingBlock() {
	// In outhook's config: signing: {header: x-crm-signature, encoding: hex, secret: CRM_SECRET}
	block := &signing.Block{Header: "x-crm-signature", Encoding: signing.EncodingHex}
	secret := "crm-raw-secret"

	// What outhook sends.
	body := []byte(`{"id":"whevt_1","type":"invoice.paid","timestamp":"2026-11-27T12:00:00Z","data":{}}`)
	scheme, _ := signing.Resolve(block)
	h := signing.Sign(scheme, "whevt_1", time.Now(), body, [][]byte{[]byte(secret)})

	fmt.Println(verify.Payload(h, body, verify.Options{Secrets: []string{secret}, Scheme: block}))
	fmt.Println(verify.Payload(h, body, verify.Options{Secrets: []string{"other"}, Scheme: block}))
	// Output:
	// <nil>
	// verify webhook: no signature matches: signing: no signature matches
}
