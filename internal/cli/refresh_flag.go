package cli

import (
	"errors"
	"strconv"

	"github.com/spf13/pflag"
)

// refreshFlag is --refresh on plan and apply. Bare --refresh (or any true
// value strconv.ParseBool reads, as for a boolean flag) reads the pages of
// the order list and then only the orders that changed (the list refresh);
// --refresh=full reads every known order one by one, the only refresh that
// sees a change of disable_ct or auto_reissue alone; a false value reads
// nothing. It sets *on for either refresh and *full for the full one.
type refreshFlag struct{ on, full *bool }

// refreshFull is the value of --refresh that reads every order one by one.
const refreshFull = "full"

// refreshUsage is --refresh's help.
const refreshUsage = "read CertCentral first (GET calls only): the order list, then each order that differs from the state; " +
	"--refresh=full reads every known order one by one, the only refresh that sees disable_ct or auto_reissue changed alone"

// registerRefresh declares --refresh on fs: alone it means true (its
// NoOptDefVal, as for a boolean flag), and it takes true, false or full
// (--refresh=full, or CERTFORM_REFRESH=full).
func registerRefresh(fs *pflag.FlagSet, on, full *bool) {
	f := fs.VarPF(refreshFlag{on: on, full: full}, "refresh", "", refreshUsage)
	f.NoOptDefVal = "true"
}

// Type is "bool": the help shows --refresh without a value, as a boolean
// flag, and a refused value is worded as a boolean's (flagMessage).
func (f refreshFlag) Type() string { return "bool" }

// String returns the flag's value: false, true or full.
func (f refreshFlag) String() string {
	switch {
	case f.on == nil || !*f.on:
		return "false"
	case *f.full:
		return refreshFull
	}
	return "true"
}

// Set reads full, or a boolean as strconv.ParseBool does.
func (f refreshFlag) Set(v string) error {
	if v == refreshFull {
		*f.on, *f.full = true, true
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("want true, false or full")
	}
	*f.on, *f.full = b, false
	return nil
}
