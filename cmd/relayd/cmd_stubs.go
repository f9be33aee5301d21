package main

import (
	"flag"
	"fmt"
)

// Commands of SPEC §2 whose implementation comes later (queue is in
// cmd_queue.go). The flags of `test`
// are already declared, so its argument handling (and its test) is final.

// testOptions are the flags of `relayd test PROFILE [-from ADDR] [-to ADDR]... [-send]`.
type testOptions struct {
	fs     *flag.FlagSet
	config *string
	from   string
	to     stringList
	send   bool
}

func (c *cli) newTestFlags() *testOptions {
	fs, cfg := c.newFlags("test")
	o := &testOptions{fs: fs, config: cfg}
	fs.StringVar(&o.from, "from", "", "envelope sender for MAIL FROM")
	fs.Var(&o.to, "to", "recipient for RCPT TO (repeatable)")
	fs.BoolVar(&o.send, "send", false, "send a real test message")
	return o
}

// test is `relayd test`: not implemented yet (exit 1).
func (c *cli) test(args []string) int {
	o := c.newTestFlags()
	if code, ok := parse(o.fs, args); !ok {
		return code
	}
	fmt.Fprintln(c.stderr, "relayd test: not implemented yet")
	return 1
}
