package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/scim-bridge/scim-bridge/config"
	"github.com/scim-bridge/scim-bridge/scim"
)

// tokensFilePoll is how often serve looks for a change of
// SCIM_BRIDGE_TOKENS_FILE (fileStamp: its identity, size, time and
// content).
const tokensFilePoll = 3 * time.Second

// staticTokens are the static IdP tokens of cfg (SCIM_BRIDGE_TOKENS and
// SCIM_BRIDGE_TOKENS_FILE), by name and digest.
func staticTokens(cfg config.Config) ([]scim.StaticToken, error) {
	tokens, err := cfg.IdPTokens()
	if err != nil {
		return nil, err
	}
	out := make([]scim.StaticToken, len(tokens))
	for i, t := range tokens {
		out[i] = scim.StaticToken{Name: t.Name, SHA256: t.SHA256}
	}
	return out, nil
}

// withAuth fills the IdP authentication of sc from cfg, which Validate
// has accepted.
func withAuth(sc scim.Config, cfg config.Config) (scim.Config, error) {
	tokens, err := staticTokens(cfg)
	if err != nil {
		return sc, err
	}
	clients, err := cfg.OAuthClientList()
	if err != nil {
		return sc, err
	}
	sc.StaticTokens = tokens
	for _, c := range clients {
		sc.OAuthClients = append(sc.OAuthClients, scim.OAuthClient{ID: c.ID, SecretSHA256: c.SecretSHA256})
	}
	sc.OAuthTokenTTL = cfg.OAuthTokenTTL
	switch k := cfg.OAuthSigningKey.Reveal(); {
	case k != "":
		sc.OAuthSigningKey = []byte(k)
	case len(clients) > 0 && storeName(cfg) == "embedded":
		// Without a configured key, one kept beside the embedded store:
		// a key made afresh at every start would turn away, after a
		// restart, the tokens the IdP holds for up to an hour.
		key, err := embeddedSigningKey(cfg.DataDir)
		if err != nil {
			return sc, err
		}
		sc.OAuthSigningKey = key
	}
	sc.OIDCIssuer, sc.OIDCAudience = cfg.OIDCIssuer, cfg.OIDCAudience
	sc.OIDCRequiredClaims, sc.OIDCName = cfg.OIDCRequiredClaims, cfg.OIDCName
	return sc, nil
}

// reloadTokens re-reads the static tokens, SCIM_BRIDGE_TOKENS_FILE
// included, whenever the file changes (polled every poll) and on SIGHUP,
// until ctx ends, and gives them to set. A file that cannot be read or
// parsed, or holds a token too short or a name twice, leaves the previous
// tokens in place and is logged, by line number, never by content.
func reloadTokens(ctx context.Context, cfg config.Config, set func([]scim.StaticToken), poll time.Duration, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	_, last, lastErr := readStamped(cfg.TokensFile)
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		why := "changed"
		select {
		case <-ctx.Done():
			return
		case <-hup:
			why = "SIGHUP"
		case <-tick.C:
		}
		_, st, err := readStamped(cfg.TokensFile)
		same := err != nil && lastErr != nil || err == nil && lastErr == nil && st.same(last)
		if why != "SIGHUP" && same {
			continue // unchanged, or still unreadable (logged once)
		}
		last, lastErr = st, err
		tokens, err := staticTokens(cfg)
		if err != nil {
			log.Error("tokens file not reloaded: the previous tokens stay in force", "file", cfg.TokensFile, "trigger", why, "error", err)
			continue
		}
		set(tokens)
		names := make([]string, len(tokens))
		for i, t := range tokens {
			names[i] = t.Name
		}
		log.Info("tokens reloaded", "file", cfg.TokensFile, "trigger", why, "tokens", names)
	}
}

// signingKeyFile is the file in the embedded store's directory that holds
// the OAuth signing key when SCIM_BRIDGE_OAUTH_SIGNING_KEY is not set.
const signingKeyFile = "oauth-signing.key"

// embeddedSigningKey returns the OAuth signing key kept in dir, making a
// random one (32 bytes, hex) the first time. The file is readable by its
// owner only.
func embeddedSigningKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, signingKeyFile)
	if key, err := os.ReadFile(path); err == nil {
		key = bytes.TrimSpace(key)
		if len(key) < config.MinSigningKeyLength {
			return nil, fmt.Errorf("%s: shorter than %d bytes: delete it to have a new key made, or set %sOAUTH_SIGNING_KEY", path, config.MinSigningKeyLength, config.EnvPrefix)
		}
		return key, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("OAuth signing key: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	key := []byte(hex.EncodeToString(raw[:]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("OAuth signing key: %w", err)
	}
	// Written whole under another name, then linked into place: of two
	// processes starting on one directory, the second reads the first
	// one's key, never a part of it, rather than replacing it.
	tmp, err := os.CreateTemp(dir, signingKeyFile+".*")
	if err != nil {
		return nil, fmt.Errorf("OAuth signing key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(key, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	switch {
	case errors.Is(err, fs.ErrExist):
		return embeddedSigningKey(dir)
	case err != nil:
		return nil, fmt.Errorf("OAuth signing key: %w", err)
	}
	return key, nil
}
