package reconcile

import (
	"strconv"
	"strings"
)

// command is a certform command line that a note's hint or an error asks
// the reader to run, as data: the planner and the applier say which
// command for which spec and order, and String writes the line. The
// plan's text, Markdown and JSON keep the written line (a note's hint is a
// string in the JSON plan), so the messages read as before.
type command struct {
	// verb is the subcommand: "forget" or "import".
	verb string
	// args are its arguments, such as the spec's name and an order id or
	// a placeholder (ORDER_ID).
	args []string
	// flags follow the arguments, such as "--force".
	flags []string
}

// String writes the command line: "certform VERB ARGS FLAGS".
func (c command) String() string {
	words := append([]string{"certform", c.verb}, c.args...)
	return strings.Join(append(words, c.flags...), " ")
}

// Placeholders an import command names when the order id is the reader's
// to find.
const (
	anyOrderID     = "ORDER_ID"
	renewalOrderID = "NEW_ORDER_ID"
)

// forgetCommand stops tracking spec name; force forgets it even while a
// call's outcome is unknown.
func forgetCommand(name string, force bool) command {
	c := command{verb: "forget", args: []string{name}}
	if force {
		c.flags = []string{"--force"}
	}
	return c
}

// importCommand tracks order id (or a placeholder) as spec name.
func importCommand(name, id string) command {
	return command{verb: "import", args: []string{name, id}}
}

// importOrder tracks order id as spec name.
func importOrder(name string, id int) command { return importCommand(name, strconv.Itoa(id)) }

// moveCommands are the commands that move the order of spec from to spec
// to: forget it under from, then import order id (or a placeholder) as to.
func moveCommands(from, to, id string) string {
	return forgetCommand(from, false).String() + ", then " + importCommand(to, id).String()
}
