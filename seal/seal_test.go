package seal_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rainflow/rainflow/seal"
)

func mustKey(t *testing.T, id string) seal.Key {
	t.Helper()
	k, err := seal.NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k1, k2 := mustKey(t, "k1"), mustKey(t, "k2")
	old, err := seal.NewKeyring(k1)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := old.Seal([]byte("hunter2-password"), "row/1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "hunter2") || seal.KeyID(sealed) != "k1" {
		t.Fatalf("sealed value %q shows its plaintext or lacks its key id", sealed)
	}
	again, _ := old.Seal([]byte("hunter2-password"), "row/1")
	if again == sealed {
		t.Fatal("two seals of one plaintext are equal: the nonce is not random")
	}

	rotated, err := seal.NewKeyring(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := rotated.Open(sealed, "row/1")
	if err != nil || string(plain) != "hunter2-password" {
		t.Fatalf("open after rotation = %q, %v", plain, err)
	}
	resealed, _ := rotated.Seal(plain, "row/1")
	if seal.KeyID(resealed) != "k2" {
		t.Fatalf("rotated keyring sealed with %q, want k2", seal.KeyID(resealed))
	}

	if _, err := rotated.Open(sealed, "row/2"); !errors.Is(err, seal.ErrCorrupt) {
		t.Fatalf("open under other additional data: %v, want ErrCorrupt", err)
	}
	if _, err := old.Open(resealed, "row/1"); !errors.Is(err, seal.ErrUnknownKey) {
		t.Fatalf("open with a keyring lacking the key: %v, want ErrUnknownKey", err)
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if tampered == sealed {
		tampered = sealed[:len(sealed)-2] + "BB"
	}
	for _, bad := range []string{"", "plain", "v1:k1", "v1:k1:!!", "v2:k1:AAAA", tampered} {
		if _, err := old.Open(bad, "row/1"); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

func TestKeyringConfig(t *testing.T) {
	k := mustKey(t, "2026-11")
	keys, err := seal.ParseKeys(" " + seal.FormatKey(k) + " ,old:" + strings.Repeat("A", 43) + "=")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != "2026-11" || string(keys[0].Secret) != string(k.Secret) {
		t.Fatalf("ParseKeys = %+v", keys)
	}
	if _, err := seal.NewKeyring(keys...); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		keys []seal.Key
	}{
		{"none", nil},
		{"short", []seal.Key{{ID: "a", Secret: make([]byte, 16)}}},
		{"bad id", []seal.Key{{ID: "A B", Secret: make([]byte, 32)}}},
		{"duplicate", []seal.Key{{ID: "a", Secret: make([]byte, 32)}, {ID: "a", Secret: make([]byte, 32)}}},
	} {
		if _, err := seal.NewKeyring(tc.keys...); err == nil {
			t.Errorf("%s: NewKeyring accepted it", tc.name)
		}
	}
	for _, bad := range []string{"", "nocolon", "a:***"} {
		if _, err := seal.ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted it", bad)
		}
	}
	var zero *seal.Keyring
	if _, err := zero.Seal([]byte("x"), ""); err == nil {
		t.Error("a nil keyring sealed")
	}
}
