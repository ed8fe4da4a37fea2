package chirp_test

import (
	"testing"

	"github.com/chirp-social/chirp/backend"
)

func TestPasskeyBackupFlags(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		flags                  byte
		wantEligible, wantSync bool
	}{
		{"None", 0x00, false, false},
		{"PresentAndVerifiedOnly", 0x45, false, false}, // UP, UV, AT
		{"EligibleNotSynced", 0x08, true, false},
		{"EligibleAndSynced", 0x5d, true, true}, // UP, UV, BE, BS, AT
		{"SyncedOnly", 0x10, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := chirp.Passkey{Flags: tc.flags}
			if p.BackupEligible() != tc.wantEligible || p.BackupState() != tc.wantSync {
				t.Errorf("flags %#02x: eligible %v, synced %v; want %v, %v",
					tc.flags, p.BackupEligible(), p.BackupState(), tc.wantEligible, tc.wantSync)
			}
		})
	}
}

func TestNewUserHandle(t *testing.T) {
	a, b := chirp.NewUserHandle(), chirp.NewUserHandle()
	if a.IsZero() || b.IsZero() || a == b {
		t.Fatalf("user handles %x and %x", a, b)
	}
	if !(chirp.UserHandle{}).IsZero() {
		t.Fatal("the zero handle is not zero")
	}
}
