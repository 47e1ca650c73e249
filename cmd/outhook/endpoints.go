package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/outhook/outhook/shared/client"
)

var endpointsCommand = &command{
	name:    "endpoints",
	summary: "list, register, pause, resume, recover or delete endpoints (a set's static ones, or a user's with --user)",
	synopsis: "endpoints list <set> | get|pause|resume|delete <set> <name> | put <set> <name> --endpoint-url URL [--types T,...] " +
		"[--description D] | recover <set> <name> --since T [--until T]  [--user ID] [--json] [--aws]",
}

// endpointsFlags are the flags of every endpoints subcommand.
type endpointsFlags struct {
	user, url, types, description, since, until *string
}

func addEndpointsFlags(fs *flag.FlagSet) endpointsFlags {
	return endpointsFlags{
		user:        fs.String("user", "", "the user whose registered endpoints these are (none: the set's static endpoints)"),
		url:         fs.String("endpoint-url", "", "put: the endpoint's https:// URL (--url is the server's)"),
		types:       fs.String("types", "", "put: event types, comma-separated: exact types or prefixes ending in * (none: every type)"),
		description: fs.String("description", "", "put: a description"),
		since:       fs.String("since", "", "recover: the start of the window, RFC 3339 (required)"),
		until:       fs.String("until", "", "recover: the end of the window, RFC 3339 (default: now)"),
	}
}

func runEndpoints(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("missing subcommand: list, get, put, delete, pause, resume or recover")
	}
	sub := args[0]
	want := []string{"<set>", "<name>"}
	switch sub {
	case "list":
		want = want[:1]
	case "get", "put", "delete", "pause", "resume", "recover":
	case "-h", "-help", "--help":
		fs := endpointsCommand.flags(e)
		addRemoteFlags(fs, e)
		addEndpointsFlags(fs)
		fs.Usage()
		return flag.ErrHelp
	default:
		return usagef("unknown subcommand %q: want list, get, put, delete, pause, resume or recover", sub)
	}
	fs := endpointsCommand.flags(e)
	r := addRemoteFlags(fs, e)
	f := addEndpointsFlags(fs)
	pos, err := parseArgs(fs, args[1:], want...)
	if err != nil {
		return err
	}
	if (sub == "put" || sub == "delete") && *f.user == "" {
		return usagef("%s needs --user: static endpoints come from the configuration", sub)
	}
	if sub == "put" && *f.url == "" {
		return usagef("put needs --endpoint-url")
	}
	var window client.RecoverParams
	if sub == "recover" {
		if window, err = parseWindow(*f.since, *f.until); err != nil {
			return err
		}
	}
	c, err := r.client(ctx, e)
	if err != nil {
		return err
	}
	set := c.Set(pos[0])
	eps := set.Endpoints()
	if *f.user != "" {
		eps = set.Users(*f.user).Endpoints()
	}
	var (
		ep *client.Endpoint
		v  any
	)
	switch sub {
	case "list":
		list, err := eps.List(ctx)
		if err != nil {
			return apiFailure(err)
		}
		return r.print(e.stdout, struct {
			Endpoints []client.Endpoint `json:"endpoints"`
		}{list}, func(tw *tabwriter.Writer) { printEndpoints(tw, list) })
	case "get":
		ep, err = eps.Get(ctx, pos[1])
	case "put":
		var types []string
		if *f.types != "" {
			types = strings.Split(*f.types, ",")
		}
		ep, _, err = eps.Put(ctx, pos[1], client.EndpointParams{URL: *f.url, EventTypes: types, Description: *f.description})
	case "pause":
		ep, err = eps.Pause(ctx, pos[1])
	case "resume":
		ep, err = eps.Resume(ctx, pos[1])
	case "delete":
		if err := eps.Delete(ctx, pos[1]); err != nil {
			return apiFailure(err)
		}
		fmt.Fprintf(e.stdout, "deleted endpoint %s of user %s\n", pos[1], *f.user)
		return nil
	case "recover":
		n, err := eps.Recover(ctx, pos[1], window)
		if err != nil {
			return apiFailure(err)
		}
		v = struct {
			Requeued int `json:"requeued"`
		}{n}
		return r.print(e.stdout, v, func(tw *tabwriter.Writer) { fmt.Fprintf(tw, "requeued\t%d\n", n) })
	}
	if err != nil {
		return apiFailure(err)
	}
	return r.print(e.stdout, ep, func(tw *tabwriter.Writer) { printEndpoints(tw, []client.Endpoint{*ep}) })
}

// parseWindow reads the --since and --until of recover.
func parseWindow(since, until string) (client.RecoverParams, error) {
	var p client.RecoverParams
	if since == "" {
		return p, usagef("recover needs --since (RFC 3339, e.g. 2026-12-01T00:00:00Z)")
	}
	var err error
	if p.Since, err = time.Parse(time.RFC3339, since); err != nil {
		return p, usagef("--since %q is not an RFC 3339 time", since)
	}
	if until != "" {
		if p.Until, err = time.Parse(time.RFC3339, until); err != nil {
			return p, usagef("--until %q is not an RFC 3339 time", until)
		}
	}
	return p, nil
}

func printEndpoints(tw *tabwriter.Writer, eps []client.Endpoint) {
	fmt.Fprintln(tw, "NAME\tUSER\tSTATUS\tEVENT TYPES\tURL\tFAILED IN A ROW\tLAST SUCCESS\tLAST FAILURE")
	for _, ep := range eps {
		status := ep.Status
		if ep.DisabledReason != "" {
			status += " (" + ep.DisabledReason + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", ep.Name, or(ep.UserID), status, strings.Join(ep.EventTypes, ","),
			ep.URL, ep.Health.ConsecutiveFailedDeliveries, stampPtr(ep.Health.LastSuccessAt), stampPtr(ep.Health.LastFailureAt))
	}
}

func stampPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return stamp(*t)
}
