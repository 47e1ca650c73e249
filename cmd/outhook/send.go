package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/outhook/outhook/shared/client"
)

var sendCommand = &command{
	name:    "send",
	summary: "send an event to every endpoint of a webhook set",
	synopsis: "send <set> <type> [--data JSON | --data @file | --data - (stdin, the default)] [--user ID] [--idempotency-key K] [--json] [--aws [--send-url URL]]\n" +
		"       send <set> --batch FILE|- (NDJSON: one {type, payload, userId?, idempotencyKey?} per line) [--json] [--aws [--send-url URL]]",
}

// maxDataBytes bounds what --data reads from a file or stdin: the API's payload limit (256 KiB) with room
// for whitespace that the server then rejects or accepts itself.
const maxDataBytes = 1 << 20

func runSend(ctx context.Context, e *env, args []string) error {
	fs := sendCommand.flags(e)
	r := addRemoteFlags(fs, e)
	r.addSendURLFlag(fs, e)
	data := fs.String("data", "-", "the payload: JSON, @FILE to read a file, or - to read stdin")
	user := fs.String("user", "", "sign with this user's managed secret (userId)")
	key := fs.String("idempotency-key", "", "idempotency key (default: a random one, so that retries of this call are safe)")
	batch := fs.String("batch", "", "send the events of an NDJSON file (- for stdin), one {type, payload, userId?, idempotencyKey?} "+
		"per line, in batches of up to 100")
	pos, err := positionals(fs, args)
	if err != nil {
		return err
	}
	if *batch != "" {
		if pos, err = checkArgs(pos, "<set>"); err != nil {
			return err
		}
		return sendBatchFile(ctx, e, r, pos[0], *batch)
	}
	if pos, err = checkArgs(pos, "<set>", "<type>"); err != nil {
		return err
	}
	payload, err := readData(*data, e.stdin)
	if err != nil {
		return err
	}
	c, err := r.client(ctx, e)
	if err != nil {
		return err
	}
	opts := []client.SendOption{}
	if *user != "" {
		opts = append(opts, client.WithUserID(*user))
	}
	if *key != "" {
		opts = append(opts, client.WithIdempotencyKey(*key))
	}
	res, err := c.Set(pos[0]).Send(ctx, pos[1], payload, opts...)
	if err != nil {
		return apiFailure(err)
	}
	return r.print(e.stdout, res, func(tw *tabwriter.Writer) { printQueued(tw, res) })
}

// readData reads the --data argument: literal JSON, @FILE, or - for stdin. It must be valid JSON.
func readData(arg string, stdin io.Reader) (json.RawMessage, error) {
	var data []byte
	switch {
	case arg == "-":
		if f, ok := stdin.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				return nil, usagef("no payload: give --data JSON or --data @FILE, or pipe the payload to stdin")
			}
		}
		b, err := io.ReadAll(io.LimitReader(stdin, maxDataBytes+1))
		if err != nil {
			return nil, fmt.Errorf("read payload from stdin: %w", err)
		}
		data = b
	case strings.HasPrefix(arg, "@"):
		f, err := os.Open(arg[1:])
		if err != nil {
			return nil, usagef("--data: %s", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxDataBytes+1))
		if err != nil {
			return nil, fmt.Errorf("read payload file: %w", err)
		}
		data = b
	default:
		data = []byte(arg)
	}
	if len(data) > maxDataBytes {
		return nil, usagef("--data: the payload is over %d bytes", maxDataBytes)
	}
	if !json.Valid(data) {
		return nil, usagef("--data: the payload is not valid JSON")
	}
	return json.RawMessage(data), nil
}
