package dynamostore

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/awstest"
	"github.com/outhook/outhook/shared/store"
)

func marshalSize(t *testing.T, v any) int {
	t.Helper()
	item, err := attributevalue.MarshalMap(v)
	require.NoError(t, err)
	return awstest.ItemSize(item)
}

const testID = "whevt_01KBG2M4Z7Q8X9Y0A1B2C3D4E5"

func sizedEvent(payload, endpoints, urlLen int) store.Event {
	created := time.Date(2026, 11, 27, 12, 0, 0, 123e6, time.UTC)
	ev := store.Event{
		ID: testID, Set: "billing-events", Type: "invoice.paid",
		Payload: json.RawMessage(`"` + strings.Repeat("x", payload-2) + `"`),
		UserID:  "user_123", CreatedAt: created, ExpiresAt: created.Add(30 * 24 * time.Hour),
	}
	for i := range endpoints {
		ev.Deliveries = append(ev.Deliveries, store.Delivery{
			Endpoint:       fmt.Sprintf("endpoint-%02d", i),
			URL:            "https://" + strings.Repeat("h", urlLen-8),
			FirstAttemptID: "whatt_01KBG2M4Z7Q8X9Y0A1B2C3D4E5",
		})
	}
	return ev
}

func sizedAttempt(body int) store.Attempt {
	started := time.Date(2026, 11, 27, 12, 0, 1, 456e6, time.UTC)
	return store.Attempt{
		Set: "billing-events", EventID: testID, Endpoint: "crm", ID: "whatt_01KBG2M4Z7Q8X9Y0A1B2C3D4E5", Number: 1,
		StartedAt: started, Duration: 183 * time.Millisecond,
		RequestHeaders: map[string]string{
			"content-type":      "application/json",
			"user-agent":        "outhook/1",
			"idempotency-key":   testID,
			"webhook-id":        testID,
			"webhook-timestamp": "1795953601",
			"webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
		},
		ResponseStatus: 200, ResponseBody: strings.Repeat("r", body), Outcome: store.OutcomeSucceeded,
		ExpiresAt: started.Add(30 * 24 * time.Hour),
	}
}

// TestStore_ItemSizes pins the sizes docs/aws.md quotes: a typical event (1 KiB payload, one endpoint) and its
// successful attempt each fit in 1-2 write units, and the largest event stays well under 400 KB.
func TestStore_ItemSizes(t *testing.T) {
	t.Parallel()
	typical := marshalSize(t, newEventItem(sizedEvent(700, 1, 40)))
	attempt := marshalSize(t, newAttemptItem(sizedAttempt(2)))
	failing := marshalSize(t, newAttemptItem(sizedAttempt(1024)))
	largest := marshalSize(t, newEventItem(sizedEvent(256<<10, 20, 2048)))
	key := marshalSize(t, idemItem{PK: idemPK("billing-events", strings.Repeat("k", 64)), SK: idemSK, EventID: testID, ExpiresAt: 1795953601})
	t.Logf("event with a 700 B payload and 1 endpoint: %d B; attempt: %d B (with a 1 KiB snippet: %d B); "+
		"256 KiB payload and 20 endpoints with 2 KiB URLs: %d B; idempotency item: %d B", typical, attempt, failing, largest, key)

	require.LessOrEqual(t, typical, 1024, "a typical event is one write unit")
	require.LessOrEqual(t, attempt, 1024, "a successful attempt is one write unit")
	require.LessOrEqual(t, failing, 2048, "an attempt with a full snippet is two write units")
	require.Less(t, largest, 400_000, "the largest event fits DynamoDB's 400 KB")
	require.Less(t, key, 1024)
}
