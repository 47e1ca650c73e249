package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/outhook/outhook/shared/webhook"
)

// batchBody is the JSON body of a batch send. Its events are decoded one by one, so that one malformed
// event fails alone.
type batchBody struct {
	Events []json.RawMessage `json:"events"`
}

// batchEventBody is one event of a batch send.
type batchEventBody struct {
	Type           str             `json:"type"`
	Payload        json.RawMessage `json:"payload"`
	UserID         str             `json:"userId"`
	IdempotencyKey str             `json:"idempotencyKey"`
}

// batchResult is one entry of a batch send's answer: a send's answer, or an error.
type batchResult struct {
	EventID    string                   `json:"eventId,omitempty"`
	Deliveries []webhook.QueuedDelivery `json:"deliveries,omitzero"`
	Replayed   bool                     `json:"replayed,omitempty"`
	Error      *errorDetail             `json:"error,omitempty"`
}

func (h *handler) sendBatch(w http.ResponseWriter, r *http.Request) {
	var body batchBody
	if !h.decodeBody(w, r, maxBatchBody, true, &body) {
		return
	}
	if body.Events == nil {
		writeJSONError(w, http.StatusBadRequest, "invalid_body", `field "events" is required: an array of 1 to 100 events`)
		return
	}
	if n := len(body.Events); n == 0 || n > webhook.MaxBatchEvents {
		writeJSONError(w, http.StatusBadRequest, "invalid_batch_size",
			fmt.Sprintf("a batch holds 1 to %d events; this one holds %d", webhook.MaxBatchEvents, n))
		return
	}
	// The malformed events are left out of the service's batch and answered in their place.
	results := make([]batchResult, len(body.Events))
	var good []webhook.SendRequest
	var at []int
	for i, raw := range body.Events {
		var ev batchEventBody
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil || bytes.TrimSpace(raw)[0] != '{' {
			msg := "each event must be a JSON object {type, payload, userId?, idempotencyKey?}"
			if err != nil {
				msg = decodeMessage(err)
			}
			results[i].Error = &errorDetail{Code: "invalid_event", Message: msg}
			continue
		}
		good = append(good, webhook.SendRequest{Type: ev.Type.value, Payload: ev.Payload, UserID: ev.UserID.value,
			IdempotencyKey: ev.IdempotencyKey.value})
		at = append(at, i)
	}
	if len(good) > 0 {
		entries, err := h.svc.SendBatch(r.Context(), r.PathValue("set"), good)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		for k, e := range entries {
			results[at[k]] = h.batchResultOf(r, e)
		}
	}
	writeJSON(w, http.StatusAccepted, map[string][]batchResult{"results": results})
}

// batchResultOf answers one entry: its result, its *webhook.Error, or a logged internal error.
func (h *handler) batchResultOf(r *http.Request, e webhook.BatchEntry) batchResult {
	if e.Err == nil {
		return batchResult{EventID: e.Result.EventID, Deliveries: e.Result.Deliveries, Replayed: e.Result.Replayed}
	}
	var we *webhook.Error
	if errors.As(e.Err, &we) {
		if _, ok := statusOf(we.Kind); ok {
			return batchResult{Error: &errorDetail{Code: we.Code, Message: we.Message}}
		}
	}
	h.log.ErrorContext(r.Context(), "batch entry failed", "path", r.URL.Path, "error", e.Err)
	return batchResult{Error: &errorDetail{Code: "internal", Message: "internal error"}}
}
