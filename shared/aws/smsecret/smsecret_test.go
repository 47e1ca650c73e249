package smsecret_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/outhook/outhook/shared/aws/awstest"
	"github.com/outhook/outhook/shared/aws/smsecret"
	"github.com/outhook/outhook/shared/secret"
	"github.com/outhook/outhook/shared/secret/secrettest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func TestUserStore_Conformance(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	s := smsecret.NewUserStore(secretsmanager.NewFromConfig(cfg), awstest.UniqueName("outhook-test/")+"/", smsecret.UserOptions{})
	secrettest.RunUserStore(t, func(t *testing.T) secret.UserStore { return s })
}
