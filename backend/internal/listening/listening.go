// Package listening reads where a started chirp listens from its log. The records it reads
// (`msg=listening addr=HOST:PORT`, `msg="debug listening" addr=…`, as slog's text handler writes
// them) are an interface: tests and the soak find a server's ports by them, so the form they are
// read in is kept here, once, beside every reader that can share it.
package listening

import (
	"regexp"
	"strconv"
	"strings"
)

// Addr is the address of the first record with message msg in log (slog's text form), or false
// when there is none yet.
func Addr(log, msg string) (string, bool) {
	if strings.ContainsAny(msg, " =\"") {
		msg = strconv.Quote(msg) // as the text handler quotes a value it could not read back
	}
	m := regexp.MustCompile(`(?m)(?:^|\s)msg=` + regexp.QuoteMeta(msg) + ` addr=(\S+)`).FindStringSubmatch(log)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// serverRecord is a `listening` record of one of the process's servers: `chirp dev` writes one
// for the API and one for the page, told apart by server=.
var serverRecord = regexp.MustCompile(`(?m)(?:^|\s)msg=listening addr=(\S+) server=(\S+)`)

// Servers maps each server named in a `listening` record of log (server=api, server=page, …) to
// its address; empty when there is none yet.
func Servers(log string) map[string]string {
	addrs := map[string]string{}
	for _, m := range serverRecord.FindAllStringSubmatch(log, -1) {
		addrs[m[2]] = m[1]
	}
	return addrs
}
