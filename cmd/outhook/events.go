package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/outhook/outhook/shared/client"
)

var eventsCommand = &command{
	name:    "events",
	summary: "list a set's events (newest first) or show one with its deliveries and attempts",
	synopsis: "events list <set> [--limit N] [--cursor C] [--type T] [--status S] [--user ID] [--endpoint E] " +
		"[--since T] [--until T] | events get <set> <eventId>  [--json] [--aws]",
}

func runEvents(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("missing subcommand: list or get")
	}
	switch args[0] {
	case "list":
		return runEventsList(ctx, e, args[1:])
	case "get":
		return runEventsGet(ctx, e, args[1:])
	case "-h", "-help", "--help":
		fs := eventsCommand.flags(e)
		addRemoteFlags(fs, e)
		addListFlags(fs)
		addFilterFlags(fs)
		fs.Usage()
		return flag.ErrHelp
	}
	return usagef("unknown subcommand %q: want list or get", args[0])
}

func runEventsList(ctx context.Context, e *env, args []string) error {
	fs := eventsCommand.flags(e)
	r := addRemoteFlags(fs, e)
	limit, cursor := addListFlags(fs)
	filters := addFilterFlags(fs)
	pos, err := parseArgs(fs, args, "<set>")
	if err != nil {
		return err
	}
	if *limit < 1 {
		// The API's rule (1..100): 0 is not "the default" here either.
		return usagef("--limit must be between 1 and 100")
	}
	params := client.ListParams{Limit: *limit, Cursor: *cursor, Type: *filters.typ, Status: *filters.status,
		UserID: *filters.user, Endpoint: *filters.endpoint}
	for _, t := range []struct {
		flag, value string
		dst         *time.Time
	}{{"--since", *filters.since, &params.Since}, {"--until", *filters.until, &params.Until}} {
		if t.value == "" {
			continue
		}
		if *t.dst, err = time.Parse(time.RFC3339, t.value); err != nil {
			return usagef("%s %q is not an RFC 3339 time (e.g. 2026-12-01T00:00:00Z)", t.flag, t.value)
		}
	}
	c, err := r.client(ctx, e)
	if err != nil {
		return err
	}
	list, err := c.Set(pos[0]).Events.List(ctx, params)
	if err != nil {
		return apiFailure(err)
	}
	return r.print(e.stdout, list, func(tw *tabwriter.Writer) {
		fmt.Fprintln(tw, "ID\tTYPE\tSTATUS\tCREATED\tDELIVERIES")
		for _, ev := range list.Events {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ev.ID, ev.Type, ev.Status, stamp(ev.CreatedAt), deliverySummary(ev.Deliveries))
		}
		if list.NextCursor != "" {
			fmt.Fprintf(tw, "\nnext page: --cursor %s\n", list.NextCursor)
		}
	})
}

// defaultListLimit is the API's page size when it is given none.
const defaultListLimit = 50

// addListFlags adds the flags of `events list`.
func addListFlags(fs *flag.FlagSet) (limit *int, cursor *string) {
	limit = fs.Int("limit", defaultListLimit, "events list: events per page, 1..100")
	cursor = fs.String("cursor", "", "events list: the next-page cursor printed by the previous page")
	return limit, cursor
}

// filterFlags are the filters of `events list`.
type filterFlags struct {
	typ, status, user, endpoint, since, until *string
}

func addFilterFlags(fs *flag.FlagSet) filterFlags {
	return filterFlags{
		typ:      fs.String("type", "", "events list: an event type, or a prefix ending in * (invoice.*)"),
		status:   fs.String("status", "", "events list: pending, delivered or failed"),
		user:     fs.String("user", "", "events list: one user's events"),
		endpoint: fs.String("endpoint", "", "events list: events with a delivery to this endpoint"),
		since:    fs.String("since", "", "events list: created at or after, RFC 3339"),
		until:    fs.String("until", "", "events list: created before, RFC 3339"),
	}
}

// deliverySummary is "crm:delivered warehouse:retrying(2)": each endpoint, its status and attempt count.
func deliverySummary(ds []client.Delivery) string {
	parts := make([]string, 0, len(ds))
	for _, d := range ds {
		s := d.Endpoint + ":" + d.Status
		if len(d.Attempts) > 1 {
			s += "(" + strconv.Itoa(len(d.Attempts)) + ")"
		}
		parts = append(parts, s)
	}
	return or(strings.Join(parts, " "))
}

func runEventsGet(ctx context.Context, e *env, args []string) error {
	fs := eventsCommand.flags(e)
	r := addRemoteFlags(fs, e)
	pos, err := parseArgs(fs, args, "<set>", "<eventId>")
	if err != nil {
		return err
	}
	c, err := r.client(ctx, e)
	if err != nil {
		return err
	}
	ev, err := c.Set(pos[0]).Events.Get(ctx, pos[1])
	if err != nil {
		return apiFailure(err)
	}
	return r.print(e.stdout, ev, func(tw *tabwriter.Writer) { printEvent(tw, ev) })
}

func printEvent(tw *tabwriter.Writer, ev *client.Event) {
	fmt.Fprintf(tw, "id\t%s\nset\t%s\ntype\t%s\nstatus\t%s\nuser\t%s\ncreated\t%s\nupdated\t%s\n",
		ev.ID, ev.Set, ev.Type, ev.Status, or(ev.UserID), stamp(ev.CreatedAt), stamp(ev.UpdatedAt))
	var payload bytes.Buffer
	if json.Indent(&payload, ev.Payload, "  ", "  ") != nil {
		payload.Reset()
		payload.Write(ev.Payload)
	}
	// The payload goes out of the table's columns: write it after a flush-safe blank line.
	fmt.Fprintf(tw, "\npayload:\n  %s\n\n", payload.String())
	// One row per delivery: its status is the delivery's, with the time and id of its next attempt when one
	// is due, and why it failed once it has.
	fmt.Fprintln(tw, "ENDPOINT\tSTATUS\tATTEMPTS\tNEXT ATTEMPT\tREASON")
	for _, d := range ev.Deliveries {
		next := "-"
		if d.NextAttemptAt != nil {
			next = stamp(*d.NextAttemptAt)
		}
		if d.NextAttemptID != "" {
			next += " " + d.NextAttemptID
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", d.Endpoint, d.Status, len(d.Attempts), next, or(oneLine(d.Reason)))
	}
	// One row per attempt, with its own result: a 500 before a 2xx reads "failed", whatever became of the delivery.
	fmt.Fprintln(tw, "\nENDPOINT\tATTEMPT\tSTARTED\tRESULT\tRESPONSE\tDURATION\tERROR")
	for _, d := range ev.Deliveries {
		attempts := append([]client.Attempt(nil), d.Attempts...)
		sort.Slice(attempts, func(i, j int) bool { return attempts[i].Number < attempts[j].Number })
		for _, a := range attempts {
			resp, result := "-", "failed"
			if a.ResponseStatus != 0 {
				resp = strconv.Itoa(a.ResponseStatus)
			}
			if a.ResponseStatus >= 200 && a.ResponseStatus < 300 {
				result = "succeeded"
			}
			fmt.Fprintf(tw, "%s\t#%d %s\t%s\t%s\t%s\t%dms\t%s\n",
				d.Endpoint, a.Number, a.ID, stamp(a.StartedAt), result, resp, a.DurationMs, or(oneLine(a.Error)))
		}
	}
}

// oneLine keeps a table row on one line.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
