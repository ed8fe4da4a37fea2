// Command gencommon writes the accounts package's list of common passwords from the password
// list of github.com/trustelem/zxcvbn (a Go port of Dropbox's zxcvbn), at a pinned version
// fetched through the Go module cache so that its checksum is verified. Run it with
// `go generate ./accounts` from backend/.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

const (
	module = "github.com/trustelem/zxcvbn@v1.0.1"
	// zxcvbn's own cut for this list (DICTIONARIES in its data-scripts/build_frequency_lists.py).
	ranked = 30000
	// accounts.MinPasswordLength and MaxPasswordLength: a shorter or longer password is refused
	// by length before the list is consulted. (Not imported: this command must run while the
	// package it generates for does not build.)
	minLength, maxLength = 8, 128
)

func main() {
	out := flag.String("out", "", "the list to write")
	license := flag.String("license", "", "where to copy the list's licence")
	flag.Parse()
	if *out == "" || *license == "" {
		fmt.Fprintln(os.Stderr, "usage: gencommon -out FILE -license FILE")
		os.Exit(2)
	}
	if err := run(*out, *license); err != nil {
		fmt.Fprintln(os.Stderr, "gencommon:", err)
		os.Exit(1)
	}
}

func run(out, license string) error {
	dir, err := moduleDir()
	if err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(dir, "data", "passwords.txt"))
	if err != nil {
		return err
	}
	defer f.Close()
	words, err := commonPasswords(f)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, []byte(strings.Join(words, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	text, err := os.ReadFile(filepath.Join(dir, "LICENSE.txt"))
	if err != nil {
		return err
	}
	header := fmt.Sprintf("common-passwords.txt is derived from data/passwords.txt of %s,\nunder this licence:\n\n", module)
	return os.WriteFile(license, append([]byte(header), text...), 0o644)
}

// moduleDir downloads the module (or finds it in the cache) and returns its directory.
func moduleDir() (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", module)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", module, err)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("go mod download %s: %w", module, err)
	}
	if m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", module, m.Error)
	}
	return m.Dir, nil
}

// commonPasswords reads the ranked list ("password count" per line), keeps the first ranked
// entries within the length rule, folded as accounts.CheckPassword folds, sorted and unique.
func commonPasswords(r io.Reader) ([]string, error) {
	var words []string
	sc := bufio.NewScanner(r)
	for rank := 0; rank < ranked && sc.Scan(); rank++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		w := strings.ToLower(norm.NFC.String(fields[0]))
		if n := utf8.RuneCountInString(w); n >= minLength && n <= maxLength {
			words = append(words, w)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	slices.Sort(words)
	return slices.Compact(words), nil
}
