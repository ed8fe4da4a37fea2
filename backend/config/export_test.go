package config

import (
	"net"
	"strconv"
)

// Addr is the listen address, HOST:PORT.
func (c Config) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }
