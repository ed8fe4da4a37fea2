package serving

import "errors"

// Closers is what a program has opened and must close, as a stack: Close closes the last opened
// first, so each thing is closed before what it was built on (the side listeners before the
// event bus, the bus before the database). A program that fails half-way through starting
// closes, through the same stack, exactly what it had opened by then.
type Closers struct {
	closes []func() error
}

// Add puts close on the stack.
func (c *Closers) Add(close func() error) {
	c.closes = append(c.closes, close)
}

// Close runs every close on the stack, last added first, and empties it, so a second Close
// does nothing. A close that fails does not stop the ones below it: their errors are returned
// together.
func (c *Closers) Close() error {
	var errs []error
	for i := len(c.closes) - 1; i >= 0; i-- {
		if err := c.closes[i](); err != nil {
			errs = append(errs, err)
		}
	}
	c.closes = nil
	return errors.Join(errs...)
}
