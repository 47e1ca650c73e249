package main

import (
	"context"
	"text/tabwriter"
)

var resendCommand = &command{
	name:     "resend",
	summary:  "deliver an event again: to one endpoint, or to every endpoint whose delivery failed",
	synopsis: "resend <set> <eventId> [--endpoint NAME] [--json] [--aws]",
}

func runResend(ctx context.Context, e *env, args []string) error {
	fs := resendCommand.flags(e)
	r := addRemoteFlags(fs, e)
	endpoint := fs.String("endpoint", "", "the endpoint to deliver to (default: every endpoint whose delivery failed)")
	pos, err := parseArgs(fs, args, "<set>", "<eventId>")
	if err != nil {
		return err
	}
	c, err := r.client(ctx, e)
	if err != nil {
		return err
	}
	res, err := c.Set(pos[0]).Resend(ctx, pos[1], *endpoint)
	if err != nil {
		return apiFailure(err)
	}
	return r.print(e.stdout, res, func(tw *tabwriter.Writer) { printQueued(tw, res) })
}
