//go:build !faultinject

package awsapp

import "github.com/outhook/outhook/shared/queue"

// wrapSender is the identity in production builds; builds tagged faultinject replace it (fault.go).
func wrapSender(s queue.Sender) (queue.Sender, error) { return s, nil }
