package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/outhook/outhook/shared/signing"
)

// schemeUsage is the help of --scheme, shared by listen and verify.
const schemeUsage = "signing scheme: standard (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature), " +
	"or the endpoint's signing block as comma-separated key=value pairs with the config's keys header, " +
	"timestampHeader, signedPayload, encoding, algorithm, and its defaults (header alone: rawBody, base64; " +
	"with timestampHeader: id.timestamp.rawBody), e.g.\n" +
	"header=x-outhook-signature,timestampHeader=x-outhook-timestamp,signedPayload=timestamp.rawBody,encoding=hex"

// schemeFlag is the --scheme flag of listen and verify: one syntax for a signing scheme, resolved by
// signing.Resolve exactly as the sender resolves the config's signing block.
type schemeFlag struct {
	block  *signing.Block // as given; nil for standard
	scheme signing.Scheme // resolved
}

var _ flag.Value = (*schemeFlag)(nil)

func newSchemeFlag() *schemeFlag { return &schemeFlag{scheme: signing.Standard} }

func (f *schemeFlag) String() string { return "standard" }

// Set reads "standard", or key=value pairs with the keys of an endpoint's signing block.
func (f *schemeFlag) Set(s string) error {
	b, err := parseBlock(s)
	if err != nil {
		return err
	}
	sc, err := signing.Resolve(b)
	if err != nil {
		return errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	f.block, f.scheme = b, sc
	return nil
}

// parseBlock reads the --scheme syntax into a signing block; nil for "standard".
func parseBlock(s string) (*signing.Block, error) {
	if s == "standard" {
		return nil, nil
	}
	b := &signing.Block{}
	set := map[string]func(string){
		"header":          func(v string) { b.Header = v },
		"timestampHeader": func(v string) { b.TimestampHeader = v },
		"signedPayload":   func(v string) { b.SignedPayload = signing.Payload(v) },
		"encoding":        func(v string) { b.Encoding = signing.Encoding(v) },
		"algorithm":       func(v string) { b.Algorithm = signing.Algorithm(v) },
	}
	for kv := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		field, known := set[k]
		if !ok || !known {
			return nil, fmt.Errorf("%q is not key=value with a key among header, timestampHeader, "+
				"signedPayload, encoding, algorithm (or use standard)", kv)
		}
		field(v)
	}
	if b.Header == "" {
		// Without a header the block would silently mean Standard Webhooks: ask for the intent instead.
		return nil, errors.New("header=NAME is required (or use standard)")
	}
	return b, nil
}

// describeScheme says in one line what a scheme checks.
func describeScheme(s signing.Scheme) string {
	if s.Versioned {
		return "Standard Webhooks scheme"
	}
	d := fmt.Sprintf("signature in %s, %s of %s", strings.ToLower(s.Header), s.Encoding, s.SignedPayload)
	if s.TimestampHeader != "" {
		d += ", timestamp in " + strings.ToLower(s.TimestampHeader)
	}
	return d
}
