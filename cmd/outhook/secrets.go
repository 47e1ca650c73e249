package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/outhook/outhook/shared/client"
)

var secretsCommand = &command{
	name:     "secrets",
	summary:  "show or rotate a user's managed signing secret (whcms_...)",
	synopsis: "secrets get|rotate <set> <userId> [--json] [--aws]",
}

func runSecrets(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("missing subcommand: get or rotate")
	}
	sub := args[0]
	switch sub {
	case "get", "rotate":
	case "-h", "-help", "--help":
		subcommandUsage(secretsCommand, e)
		return flag.ErrHelp
	default:
		return usagef("unknown subcommand %q: want get or rotate", sub)
	}
	fs := secretsCommand.flags(e)
	r := addRemoteFlags(fs, e)
	pos, err := parseArgs(fs, args[1:], "<set>", "<userId>")
	if err != nil {
		return err
	}
	c, err := r.client(ctx, e)
	if err != nil {
		return err
	}
	secrets := c.Set(pos[0]).Secrets
	var s *client.UserSecret
	if sub == "get" {
		s, err = secrets.Get(ctx, pos[1])
	} else {
		s, err = secrets.Rotate(ctx, pos[1])
	}
	if err != nil {
		return apiFailure(err)
	}
	return r.print(e.stdout, s, func(tw *tabwriter.Writer) {
		fmt.Fprintln(tw, "VERSION\tSECRET\tCREATED\tEXPIRES")
		fmt.Fprintf(tw, "current\t%s\t%s\t-\n", s.Current.Value, stamp(s.Current.CreatedAt))
		previous := s.Older
		if s.Previous != nil {
			previous = append([]client.SecretVersion{*s.Previous}, s.Older...)
		}
		for _, p := range previous {
			expires := "-"
			if p.ExpiresAt != nil {
				expires = stamp(*p.ExpiresAt)
			}
			fmt.Fprintf(tw, "previous\t%s\t%s\t%s\n", p.Value, stamp(p.CreatedAt), expires)
		}
	})
}
