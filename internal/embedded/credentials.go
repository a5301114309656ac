package embedded

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// Credentials are what a client needs to authenticate to the embedded log.
type Credentials struct {
	Mechanism string `json:"mechanism"`
	Username  string `json:"username"`
	Password  string `json:"password"`
}

// credentialsFile is kept in the log's directory, readable by its owner only.
const credentialsFile = "credentials"

// Mechanism and user name of the embedded log's one user: SCRAM, so the
// password never crosses the (loopback) connection.
const (
	embeddedMechanism = "SCRAM-SHA-256"
	embeddedUser      = "sluice"
)

// loadOrCreateCredentials reads dir's credentials file, or generates one with
// a random password. A file readable by others is made private again: the
// password opens every tenant's topics.
func loadOrCreateCredentials(dir string, logger *slog.Logger) (Credentials, error) {
	path := filepath.Join(dir, credentialsFile)
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		var c Credentials
		if err := json.Unmarshal(raw, &c); err != nil {
			return Credentials{}, fmt.Errorf("reading embedded log credentials %s: %w", path, err)
		}
		if c.Mechanism != embeddedMechanism || c.Username == "" || len(c.Password) < 32 {
			return Credentials{}, fmt.Errorf("embedded log credentials %s: want mechanism %s, a user name and a password of at least 32 characters (delete the file to have a new one generated)", path, embeddedMechanism)
		}
		if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
			logger.Warn("embedded log credentials were readable by others: made private", "file", path, "mode", info.Mode().Perm().String())
			if err := os.Chmod(path, 0o600); err != nil {
				return Credentials{}, fmt.Errorf("making embedded log credentials %s private: %w", path, err)
			}
		}
		return c, nil
	case errors.Is(err, fs.ErrNotExist):
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return Credentials{}, fmt.Errorf("generating embedded log password: %w", err)
		}
		c := Credentials{Mechanism: embeddedMechanism, Username: embeddedUser, Password: hex.EncodeToString(secret)}
		if err := writePrivate(path, c); err != nil {
			return Credentials{}, fmt.Errorf("writing embedded log credentials %s: %w", path, err)
		}
		return c, nil
	default:
		return Credentials{}, fmt.Errorf("reading embedded log credentials %s: %w", path, err)
	}
}

// writePrivate writes v as JSON to path (mode 0600) so that a crash leaves
// either no file or the whole file.
func writePrivate(path string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(raw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
