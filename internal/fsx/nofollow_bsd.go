//go:build dragonfly || freebsd

package fsx

import "syscall"

// NoFollowErrno is EMLINK here (see nofollow.go).
const NoFollowErrno = syscall.EMLINK
