package fsx

import "syscall"

// NoFollowErrno is EFTYPE here (see nofollow.go).
const NoFollowErrno = syscall.EFTYPE
