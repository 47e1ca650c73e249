package awstest

import "syscall"

// sysProcAttr makes the kernel kill moto_server when the test process dies, however it dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
