package console

import "time"

// pauseState reports whether profile name is paused at run time, and
// until when (zero: until resumed).
func (c *Console) pauseState(name string) (bool, time.Time) { return false, time.Time{} }

func (c *Console) paused(name string) bool {
	p, _ := c.pauseState(name)
	return p
}
