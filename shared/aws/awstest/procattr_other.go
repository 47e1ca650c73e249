//go:build !linux

package awstest

import "syscall"

// sysProcAttr: without a parent-death signal, Main (or the process group ending) stops moto_server.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
