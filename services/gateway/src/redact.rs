//! The one rule for secrets in request targets: what spans, logs and metrics may say about a
//! URL. Some paths carry a credential (an inbox's hook token, an invitation link's token), and
//! a query may too (`?token=`, `?key=`): the target is written with those parts replaced, so a
//! log, a trace exporter or a metrics label never holds one.

use std::borrow::Cow;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Path prefixes whose next segment is a credential: WUZAPI's event path and the web app's
/// invitation page (`/invite/wmi_...`).
const SECRET_SEGMENT_AFTER: [&str; 2] = ["/api/webhooks/wuzapi/", "/invite/"];

/// Query parameters whose value may be a credential.
const SECRET_PARAMETERS: [&str; 7] = [
    "token",
    "key",
    "api_key",
    "secret",
    "password",
    "signature",
    "code",
];

/// The request target (`path` or `path?query`) with every secret replaced by [`REDACTED`];
/// borrowed unchanged when there was none.
pub fn target(target: &str) -> Cow<'_, str> {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let path = self::path(path);
    let query = query.map(self::query);
    let changed = matches!(path, Cow::Owned(_)) || matches!(query, Some(Cow::Owned(_)));
    if !changed {
        return Cow::Borrowed(target);
    }
    let mut out = path.into_owned();
    if let Some(query) = query {
        out.push('?');
        out.push_str(&query);
    }
    Cow::Owned(out)
}

/// A path with its credential segment replaced.
pub fn path(path: &str) -> Cow<'_, str> {
    for prefix in SECRET_SEGMENT_AFTER {
        // Case-insensitively: the router does not match these paths otherwise, but a log must
        // not depend on that.
        if path.len() > prefix.len()
            && path.is_char_boundary(prefix.len())
            && path[..prefix.len()].eq_ignore_ascii_case(prefix)
        {
            let rest = &path[prefix.len()..];
            let tail = rest.find('/').map_or("", |at| &rest[at..]);
            return Cow::Owned(format!("{}{REDACTED}{tail}", &path[..prefix.len()]));
        }
    }
    Cow::Borrowed(path)
}

/// A query string with the values of credential-like parameters replaced.
fn query(query: &str) -> Cow<'_, str> {
    let secret = |name: &str| {
        let name = name.to_ascii_lowercase();
        SECRET_PARAMETERS.iter().any(|secret| {
            name == *secret || name.ends_with(&format!("_{secret}")) || name.ends_with(secret)
        })
    };
    if !query
        .split('&')
        .any(|pair| secret(pair.split('=').next().unwrap_or_default()))
    {
        return Cow::Borrowed(query);
    }
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if secret(name) => format!("{name}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect();
    Cow::Owned(pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_tokens_are_redacted() {
        let token = "a".repeat(64);
        assert_eq!(
            target(&format!("/api/webhooks/wuzapi/{token}")),
            "/api/webhooks/wuzapi/[redacted]"
        );
        assert_eq!(
            target(&format!("/API/Webhooks/WUZAPI/{token}/more?x=1")),
            "/API/Webhooks/WUZAPI/[redacted]/more?x=1"
        );
        // Whatever the segment looks like: a wrong token may be a right one mistyped.
        assert_eq!(
            target("/api/webhooks/wuzapi/short"),
            "/api/webhooks/wuzapi/[redacted]"
        );
    }

    #[test]
    fn invitation_links_are_redacted() {
        assert_eq!(target("/invite/wmi_0123abcd"), "/invite/[redacted]");
        assert_eq!(target("/invite/wmi_0123abcd?x=y"), "/invite/[redacted]?x=y");
    }

    #[test]
    fn secret_query_parameters_are_redacted() {
        assert_eq!(
            target("/api/x?token=abc&limit=5"),
            "/api/x?token=[redacted]&limit=5"
        );
        assert_eq!(
            target("/api/x?limit=5&api_key=k&Access_Token=t"),
            "/api/x?limit=5&api_key=[redacted]&Access_Token=[redacted]"
        );
    }

    #[test]
    fn other_targets_are_kept_as_they_are() {
        for plain in [
            "/",
            "/api/campaigns?limit=5&cursor=abc",
            "/api/webhooks/wuzapi/",
            "/api/webhooks/stripe/0b7e6b0e-6c47-4f5e-9b87-2b8f1d7d6c1a",
            "/assets/index-abc.js",
            "/invite/",
        ] {
            assert!(matches!(target(plain), Cow::Borrowed(_)), "{plain}");
        }
    }
}
