// Package seal encrypts small secrets at rest (secret env values, certificate keys, source credentials)
// with AES-256-GCM. A Keyring holds one primary key, which seals, and any number of older keys, which
// still open what they sealed, so keys can be rotated without rewriting every row at once.
//
// A sealed value is text: "v1:<key id>:<base64url(nonce || ciphertext)>". Every Seal and Open takes
// additional data naming where the value belongs (say "component-secret-env/<component id>/<name>"):
// a sealed value copied into another row does not open there.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// KeySize is the length of a key: AES-256.
const KeySize = 32

const version = "v1"

// ErrUnknownKey is the error of Open for a value sealed with a key the keyring lacks.
var ErrUnknownKey = errors.New("sealed with a key this keyring does not hold")

// ErrCorrupt is the error of Open for a value that is not a sealed value, or that does not
// authenticate under its key and additional data.
var ErrCorrupt = errors.New("sealed value is malformed or does not authenticate")

// Keyring seals with its primary key and opens with any of its keys. The zero Keyring holds no key:
// Seal and Open fail. It is safe for concurrent use.
type Keyring struct {
	primary string
	aeads   map[string]cipher.AEAD
}

var keyIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// Key is one named key.
type Key struct {
	ID     string // a-z, 0-9 and -, at most 32 characters
	Secret []byte // KeySize bytes
}

// NewKeyring answers a keyring whose first key is the primary one.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("no encryption key given")
	}
	k := &Keyring{primary: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for _, key := range keys {
		if !keyIDPattern.MatchString(key.ID) {
			return nil, fmt.Errorf("encryption key id %q: want 1-32 of a-z, 0-9 and -, starting with a letter or digit", key.ID)
		}
		if len(key.Secret) != KeySize {
			return nil, fmt.Errorf("encryption key %q is %d bytes, want %d", key.ID, len(key.Secret), KeySize)
		}
		if _, dup := k.aeads[key.ID]; dup {
			return nil, fmt.Errorf("encryption key id %q is given twice", key.ID)
		}
		block, err := aes.NewCipher(key.Secret)
		if err != nil {
			return nil, fmt.Errorf("encryption key %q: %w", key.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("encryption key %q: %w", key.ID, err)
		}
		k.aeads[key.ID] = aead
	}
	return k, nil
}

// ParseKeys reads keys written as "id:base64" (standard or URL alphabet, padded or not), separated by
// commas; the first is the primary one. It is the form of the --encryption-keys flag.
func ParseKeys(s string) ([]Key, error) {
	var keys []Key
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, b64, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("encryption key %d: want id:base64", i+1)
		}
		secret, err := decodeBase64(b64)
		if err != nil {
			return nil, fmt.Errorf("encryption key %q: not base64: %w", id, err)
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	if len(keys) == 0 {
		return nil, errors.New("no encryption key given")
	}
	return keys, nil
}

// FormatKey writes a key in the form ParseKeys reads.
func FormatKey(k Key) string {
	return k.ID + ":" + base64.RawURLEncoding.EncodeToString(k.Secret)
}

// NewKey answers a fresh random key with the given id.
func NewKey(id string) (Key, error) {
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return Key{}, fmt.Errorf("make encryption key: %w", err)
	}
	return Key{ID: id, Secret: secret}, nil
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// PrimaryID answers the id of the key Seal uses.
func (k *Keyring) PrimaryID() string {
	if k == nil {
		return ""
	}
	return k.primary
}

// Seal encrypts plaintext under the primary key, bound to additional data ad.
func (k *Keyring) Seal(plaintext []byte, ad string) (string, error) {
	if k == nil || k.aeads == nil {
		return "", errors.New("seal: no encryption key configured")
	}
	aead := k.aeads[k.primary]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: nonce: %w", err)
	}
	out := aead.Seal(nonce, nonce, plaintext, []byte(ad))
	return version + ":" + k.primary + ":" + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value Seal made with any key of the keyring and the same additional data.
func (k *Keyring) Open(sealed, ad string) ([]byte, error) {
	if k == nil || k.aeads == nil {
		return nil, errors.New("open sealed value: no encryption key configured")
	}
	v, rest, ok := strings.Cut(sealed, ":")
	if !ok || v != version {
		return nil, ErrCorrupt
	}
	id, b64, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, ErrCorrupt
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("key %q: %w", id, ErrUnknownKey)
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrCorrupt
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(ad))
	if err != nil {
		return nil, ErrCorrupt
	}
	return plain, nil
}

// KeyID answers the id of the key a sealed value was sealed with ("" when it is not one), so a
// rotation can find the rows still sealed with an old key.
func KeyID(sealed string) string {
	parts := strings.SplitN(sealed, ":", 3)
	if len(parts) != 3 || parts[0] != version {
		return ""
	}
	return parts[1]
}
