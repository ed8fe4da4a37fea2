package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestCommonPasswords(t *testing.T) {
	var list strings.Builder
	// Ranked as zxcvbn's file is: "password count", commonest first.
	for _, l := range []string{
		"123456 900",    // too short: refused by length already
		"PassWord1 800", // folded
		"password1 700", // the same once folded: kept once
		"zebra_crossing 600",
		"cafe\u0301s_noirs 500",           // composed to NFC, as CheckPassword counts
		strings.Repeat("x", 129) + " 400", // too long
	} {
		list.WriteString(l + "\n")
	}
	for i := 0; strings.Count(list.String(), "\n") < ranked; i++ {
		fmt.Fprintf(&list, "filler%05d 1\n", i)
	}
	list.WriteString("beyond_the_cut 1\n")

	words, err := commonPasswords(strings.NewReader(list.String()))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"password1", "zebra_crossing", "caf\u00e9s_noirs"} {
		if !slices.Contains(words, want) {
			t.Errorf("%q is missing", want)
		}
	}
	for _, not := range []string{"123456", "PassWord1", "beyond_the_cut", strings.Repeat("x", 129)} {
		if slices.Contains(words, not) {
			t.Errorf("%q is kept", not)
		}
	}
	if !slices.IsSorted(words) || len(slices.Compact(slices.Clone(words))) != len(words) {
		t.Error("not sorted and unique")
	}
	if n := len(words); n != ranked-3 {
		t.Errorf("%d words, want the %d of the first %d within the length rule", n, ranked-3, ranked)
	}
}
