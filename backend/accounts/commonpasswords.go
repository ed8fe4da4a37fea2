package accounts

import (
	_ "embed"
	"strings"
	"sync"
)

// The list is generated rather than imported: the zxcvbn module would put its 1 MB of
// dictionaries (names, Wikipedia and film words, which we do not refuse) into the binary and
// build them at start-up, for one list of about 100 KB. The generator keeps zxcvbn's own cut
// (its 30,000 commonest passwords) and of them only those of MinPasswordLength or more
// characters, since shorter ones are refused by length already; it folds them to lower case
// and sorts them. Its licence (MIT) travels with it in common-passwords.LICENSE.
//
//go:generate go run ./internal/gencommon -out common-passwords.txt -license common-passwords.LICENSE

//go:embed common-passwords.txt
var commonPasswordsText string

// commonPasswords is built on the first check, not at start-up: a process that never sees a
// password pays nothing.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	lines := strings.Split(strings.TrimSuffix(commonPasswordsText, "\n"), "\n")
	set := make(map[string]struct{}, len(lines))
	for _, l := range lines {
		set[l] = struct{}{}
	}
	return set
})

// isCommonPassword looks up a password already in NFC and lower case.
func isCommonPassword(folded string) bool {
	_, ok := commonPasswords()[folded]
	return ok
}
