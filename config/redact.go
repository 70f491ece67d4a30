package config

import (
	"net/url"
	"strings"
)

// passwordPlaceholder stands for a password while a URL is re-assembled; it
// needs no escaping, so it can be swapped for "<secret>" afterwards.
const passwordPlaceholder = "SCIMBRIDGEREDACTED"

// RedactURL returns raw with only its secrets replaced by "<secret>": the
// password of the userinfo, and the value of every query parameter whose
// name holds "password" (Sentinel's password=). The scheme, user, host,
// port, path and the other parameters stay visible, so that an operator
// sees where it points: "redis://:pw@redis:6379/0" shows as
// "redis://:<secret>@redis:6379/0". A URL without a password is returned
// whole; one that does not parse as a URL shows as "<secret>", since what
// part of it is secret cannot be told. Empty stays empty.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return redacted
	}
	masked := false
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), passwordPlaceholder)
		masked = true
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return redacted
		}
		for name, vals := range q {
			if !strings.Contains(strings.ToLower(name), "password") {
				continue
			}
			for i := range vals {
				vals[i] = passwordPlaceholder
			}
			masked = true
		}
		if masked {
			u.RawQuery = q.Encode()
		}
	}
	if !masked {
		return raw
	}
	return strings.ReplaceAll(u.String(), passwordPlaceholder, redacted)
}
