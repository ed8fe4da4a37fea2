package passkeys

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// Config is the relying party: the domain passkeys are made for, and the pages that may use
// them.
type Config struct {
	// RPID is the relying party's id (WEBAUTHN_RP_ID): the page's host or a registrable
	// parent of it, without scheme or port. A passkey is bound to it for good.
	RPID string
	// Origins are the pages' exact origins (WEBAUTHN_ORIGINS), each within RPID.
	Origins []string
	// RPDisplayName is the name the browser shows in its passkey dialogs.
	RPDisplayName string
}

// DisplayName is the relying party's name in the browser's dialogs.
const DisplayName = "Chirp"

// domainName is a DNS name in lower case: labels of letters, digits and inner hyphens.
var domainName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// Validate reports every problem with the configuration at once, each naming the variable
// that sets it as config.Load's messages do (NAME="value": …).
func (c Config) Validate() error {
	var errs []error
	rpOK := domainName.MatchString(c.RPID) && net.ParseIP(c.RPID) == nil
	if !rpOK {
		errs = append(errs, fmt.Errorf("WEBAUTHN_RP_ID=%q: not a domain name: set the page's host or a parent domain of it, in lower case, without scheme or port (e.g. chirp.example, or localhost)", c.RPID))
	}
	if len(c.Origins) == 0 {
		errs = append(errs, errors.New(`WEBAUTHN_ORIGINS="": no origin: set the page's origin (e.g. https://chirp.example)`))
	}
	for _, o := range c.Origins {
		if err := checkOrigin(o, c.RPID, rpOK); err != nil {
			errs = append(errs, err)
		}
	}
	if c.RPDisplayName == "" {
		errs = append(errs, errors.New("passkeys: the relying party's display name is empty"))
	}
	return errors.Join(errs...)
}

// checkOrigin checks one page origin: an http(s) origin, in the form browsers send it (no
// path, no trailing slash), whose host is the RP ID or a subdomain of it, and https unless the
// host is localhost (browsers offer passkeys only to secure contexts).
func checkOrigin(o, rpID string, rpOK bool) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
		return fmt.Errorf("WEBAUTHN_ORIGINS=%q: not an origin: write it as the browser sends it, scheme://host[:port] (e.g. https://chirp.example)", o)
	}
	host := u.Hostname()
	if host != strings.ToLower(host) {
		return fmt.Errorf("WEBAUTHN_ORIGINS=%q: write the host in lower case, as the browser sends it", o)
	}
	if rpOK && host != rpID && !strings.HasSuffix(host, "."+rpID) {
		return fmt.Errorf("WEBAUTHN_ORIGINS=%q: not within WEBAUTHN_RP_ID %q: its host must be %s or a subdomain of it", o, rpID, rpID)
	}
	if u.Scheme == "http" && host != "localhost" && !strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("WEBAUTHN_ORIGINS=%q: browsers offer passkeys only to https pages (or http://localhost)", o)
	}
	return nil
}
