package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/outhook/outhook/shared/client"
)

// batchBytes bounds the NDJSON lines of one batch request, under the API's 1 MiB with room for the envelope
// and the idempotency keys the client adds.
const batchBytes = 900 << 10

// batchLine is one line of a --batch file.
type batchLine struct {
	Type           string          `json:"type"`
	Payload        json.RawMessage `json:"payload"`
	UserID         string          `json:"userId"`
	IdempotencyKey string          `json:"idempotencyKey"`
}

// batchOutcome is one event's line of output with --json.
type batchOutcome struct {
	Line       int                     `json:"line"`
	EventID    string                  `json:"eventId,omitempty"`
	Deliveries []client.QueuedDelivery `json:"deliveries,omitempty"`
	Replayed   bool                    `json:"replayed,omitempty"`
	Error      *batchError             `json:"error,omitempty"`
}

// batchError is why an event was not accepted, as the API answers it.
type batchError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// sendBatchFile sends the events of an NDJSON file (or stdin for "-") in batches of up to 100 events and
// prints one line per event. Every line is checked before anything is sent. It fails if any event failed.
func sendBatchFile(ctx context.Context, e *env, r *remote, set, path string) error {
	var in io.Reader = e.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return usagef("--batch: %s", err)
		}
		defer f.Close()
		in = f
	}
	events, lines, err := readBatch(in)
	if err != nil {
		return err
	}
	c, err := r.client(ctx, e)
	if err != nil {
		return err
	}
	var out []batchOutcome
	for start := 0; start < len(events); {
		end, size := start, 0
		for end < len(events) && end-start < client.MaxBatchEvents && (end == start || size+lines[end].size <= batchBytes) {
			size += lines[end].size
			end++
		}
		res, err := c.Set(set).SendBatch(ctx, events[start:end])
		if err != nil {
			return apiFailure(fmt.Errorf("lines %d-%d: %w", lines[start].n, lines[end-1].n, err))
		}
		for k, res := range res {
			o := batchOutcome{Line: lines[start+k].n, EventID: res.EventID, Deliveries: res.Deliveries, Replayed: res.Replayed}
			if res.Err != nil {
				o.Error = &batchError{Code: res.Err.Code, Message: res.Err.Message}
			}
			out = append(out, o)
		}
		start = end
	}
	if err := printBatch(e.stdout, r.json, out); err != nil {
		return err
	}
	failed := 0
	for _, o := range out {
		if o.Error != nil {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d events were not accepted", failed, len(out))
	}
	return nil
}

type lineInfo struct{ n, size int }

// readBatch reads NDJSON events, skipping blank lines; a line that is not an event object is a usage error
// naming the line.
func readBatch(in io.Reader) ([]client.BatchEvent, []lineInfo, error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxDataBytes+1)
	var events []client.BatchEvent
	var lines []lineInfo
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var l batchLine
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil || line[0] != '{' {
			return nil, nil, usagef("--batch: line %d is not an event object {type, payload, userId?, idempotencyKey?}", n)
		}
		events = append(events, client.BatchEvent{Type: l.Type, Payload: l.Payload, UserID: l.UserID, IdempotencyKey: l.IdempotencyKey})
		lines = append(lines, lineInfo{n: n, size: len(line)})
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("read --batch: %w", err)
	}
	if len(events) == 0 {
		return nil, nil, usagef("--batch: no events")
	}
	return events, lines, nil
}

// printBatch writes one JSON object per event (NDJSON) with --json, else a table.
func printBatch(w io.Writer, asJSON bool, out []batchOutcome) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, o := range out {
			if err := enc.Encode(o); err != nil {
				return fmt.Errorf("write JSON: %w", err)
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LINE\tEVENT\tRESULT")
	for _, o := range out {
		switch {
		case o.Error != nil:
			fmt.Fprintf(tw, "%d\t-\t%s: %s\n", o.Line, o.Error.Code, o.Error.Message)
		case o.Replayed:
			fmt.Fprintf(tw, "%d\t%s\treplayed (%d deliveries)\n", o.Line, o.EventID, len(o.Deliveries))
		default:
			fmt.Fprintf(tw, "%d\t%s\tqueued (%d deliveries)\n", o.Line, o.EventID, len(o.Deliveries))
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}
