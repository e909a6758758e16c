//go:build !dragonfly && !freebsd && !netbsd

package fsx

import "syscall"

// NoFollowErrno is what open(2) with O_NOFOLLOW fails with when the last
// element of the path is a symlink: ELOOP, as POSIX says, on Linux, macOS
// and OpenBSD; EMLINK on FreeBSD and DragonFly, EFTYPE on NetBSD
// (nofollow_bsd.go, nofollow_netbsd.go). Test it with errors.Is.
const NoFollowErrno = syscall.ELOOP
