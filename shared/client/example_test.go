package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/outhook/outhook/shared/client"
)

// Send an event to every endpoint of the billing-events set, as in a route handler that has just paid an
// invoice. Against the deployed API, use client.WithSigV4(awsCfg) instead of the API key.
func ExampleSet_Send() {
	// A stand-in for `outhook serve`, answering like it does.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"eventId":"whevt_01JDQ7Z6M0Y5R8V2K3N4P5Q6R7","deliveries":[`+
			`{"endpoint":"crm","status":"queued","attemptId":"whatt_01JDQ7Z6M0Y5R8V2K3N4P5Q6R8"},`+
			`{"endpoint":"warehouse","status":"queued","attemptId":"whatt_01JDQ7Z6M0Y5R8V2K3N4P5Q6R9"}]}`)
	}))
	defer api.Close()

	c, err := client.New(api.URL, client.WithAPIKey("local-api-key"))
	if err != nil {
		log.Fatal(err)
	}
	billing := c.Set("billing-events")
	res, err := billing.Send(context.Background(), "invoice.paid", map[string]string{
		"invoiceId":  "in_1",
		"customerId": "cus_1",
	}, client.WithIdempotencyKey("invoice-in_1-paid"))
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		log.Fatalf("outhook refused the event: %s (%s)", apiErr.Message, apiErr.Code)
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.EventID)
	for _, d := range res.Deliveries {
		fmt.Println(d.Endpoint, d.Status)
	}
	// Output:
	// whevt_01JDQ7Z6M0Y5R8V2K3N4P5Q6R7
	// crm queued
	// warehouse queued
}
