use std::collections::HashMap;
use std::time::Duration;

use cache::{CacheConfig, CacheTtls, ConfigError, KeyKind, RedisSettings, RedisTopology};

fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    let map: HashMap<&str, &str> = pairs.iter().copied().collect();
    move |var| map.get(var).map(|v| (*v).to_owned())
}

const GUIDE: [(KeyKind, &str, u64); 11] = [
    (KeyKind::Branding, "CACHE_BRANDING_TTL", 300),
    (KeyKind::StripeSettings, "CACHE_STRIPE_SETTINGS_TTL", 300),
    (KeyKind::StripeAnalytics, "CACHE_STRIPE_ANALYTICS_TTL", 120),
    (KeyKind::UserSubscription, "CACHE_SUBSCRIPTION_TTL", 300),
    (KeyKind::SessionAgents, "CACHE_SESSION_AGENTS_TTL", 300),
    (KeyKind::SessionTeams, "CACHE_SESSION_TEAMS_TTL", 300),
    (KeyKind::SessionRoles, "CACHE_SESSION_ROLES_TTL", 600),
    (KeyKind::SessionInboxes, "CACHE_SESSION_INBOXES_TTL", 300),
    (KeyKind::UserQuotas, "CACHE_USER_QUOTAS_TTL", 300),
    (KeyKind::UserFeatures, "CACHE_USER_FEATURES_TTL", 600),
    (KeyKind::ApiKeyPrincipal, "CACHE_API_KEY_PRINCIPAL_TTL", 300),
];

#[test]
fn defaults_are_the_guides() {
    let ttls = CacheTtls::from_env(env(&[])).unwrap();
    assert_eq!(ttls, CacheTtls::default());
    assert_eq!(KeyKind::ALL.len(), GUIDE.len());
    for (kind, var, secs) in GUIDE {
        assert_eq!(kind.ttl_var(), var);
        assert_eq!(ttls.ttl(kind), Duration::from_secs(secs), "{kind}");
    }
    assert_eq!(ttls.default_ttl(), Duration::from_secs(300));
    assert_eq!(ttls.negative(), Duration::from_secs(30));
    let config = CacheConfig::from_env(env(&[])).unwrap();
    assert_eq!(config, CacheConfig::default());
    assert_eq!(config.timeout, Duration::from_millis(50));
    assert_eq!(config.key_prefix, "");
}

#[test]
fn each_variable_sets_its_own_kind_only() {
    for (kind, var, _) in GUIDE {
        let ttls = CacheTtls::from_env(env(&[(var, "77")])).unwrap();
        for (other, _, secs) in GUIDE {
            let expected = if other == kind { 77 } else { secs };
            assert_eq!(
                ttls.ttl(other),
                Duration::from_secs(expected),
                "{var} -> {other}"
            );
        }
    }
    let ttls = CacheTtls::from_env(env(&[("CACHE_NEGATIVE_TTL", "5")])).unwrap();
    assert_eq!(ttls.negative(), Duration::from_secs(5));
    let config = CacheConfig::from_env(env(&[
        ("CACHE_TIMEOUT_MS", "250"),
        ("CACHE_KEY_PREFIX", "staging:"),
    ]))
    .unwrap();
    assert_eq!(config.timeout, Duration::from_millis(250));
    assert_eq!(config.key_prefix, "staging:");
}

#[test]
fn the_default_ttl_is_the_default_of_the_five_minute_kinds() {
    let ttls = CacheTtls::from_env(env(&[
        ("CACHE_DEFAULT_TTL", "100"),
        ("CACHE_BRANDING_TTL", "200"),
    ]))
    .unwrap();
    for (kind, _, guide) in GUIDE {
        let expected = match kind {
            KeyKind::Branding => 200,
            _ if guide == 300 => 100,
            _ => guide,
        };
        assert_eq!(ttls.ttl(kind), Duration::from_secs(expected), "{kind}");
    }
    assert_eq!(ttls.negative(), Duration::from_secs(30));
}

#[test]
fn blank_is_unset() {
    let ttls = CacheTtls::from_env(env(&[("CACHE_BRANDING_TTL", "  ")])).unwrap();
    assert_eq!(ttls.ttl(KeyKind::Branding), Duration::from_secs(300));
    assert_eq!(
        CacheTtls::from_env(env(&[("CACHE_BRANDING_TTL", " 60 ")]))
            .unwrap()
            .ttl(KeyKind::Branding),
        Duration::from_secs(60)
    );
}

#[test]
fn invalid_values_are_rejected_naming_the_variable() {
    let vars = GUIDE.iter().map(|(_, var, _)| *var).chain([
        "CACHE_DEFAULT_TTL",
        "CACHE_NEGATIVE_TTL",
        "CACHE_TIMEOUT_MS",
    ]);
    for var in vars {
        let too_big = if var == "CACHE_TIMEOUT_MS" {
            "10001"
        } else {
            "86401"
        };
        for bad in ["0", too_big, "-5", "1.5", "5m", "ten"] {
            let err: ConfigError = CacheConfig::from_env(env(&[(var, bad)])).unwrap_err();
            assert_eq!(err.var, var);
            assert_eq!(err.value, bad);
            assert!(err.to_string().contains(var), "{err}");
        }
    }
    let ok = CacheTtls::from_env(env(&[("CACHE_SESSION_ROLES_TTL", "86400")])).unwrap();
    assert_eq!(ok.ttl(KeyKind::SessionRoles), Duration::from_secs(86_400));
    let err = CacheConfig::from_env(env(&[("CACHE_KEY_PREFIX", "my app:")])).unwrap_err();
    assert_eq!(err.var, "CACHE_KEY_PREFIX");
}

#[test]
fn redis_is_a_single_server_unless_configured_otherwise() {
    let url = "redis://localhost:6379";
    assert_eq!(
        RedisSettings::from_env(env(&[]), url).unwrap(),
        RedisSettings::single(url)
    );

    let cluster = RedisSettings::from_env(
        env(&[
            ("REDIS_MODE", "cluster"),
            ("REDIS_NODES", "10.0.0.1:7000, 10.0.0.2:7001"),
            ("REDIS_PASSWORD", "s3cret"),
        ]),
        url,
    )
    .unwrap();
    assert_eq!(
        cluster.topology,
        RedisTopology::Cluster {
            nodes: vec![("10.0.0.1".into(), 7000), ("10.0.0.2".into(), 7001)]
        }
    );
    assert_eq!(cluster.password.as_deref(), Some("s3cret"));
    assert!(!format!("{cluster:?}").contains("s3cret"));

    let sentinel = RedisSettings::from_env(
        env(&[
            ("REDIS_MODE", "Sentinel"),
            ("REDIS_NODES", "sentinel-1:26379,sentinel-2:26379"),
            ("REDIS_SENTINEL_SERVICE", "mymaster"),
        ]),
        url,
    )
    .unwrap();
    assert_eq!(
        sentinel.topology,
        RedisTopology::Sentinel {
            nodes: vec![("sentinel-1".into(), 26379), ("sentinel-2".into(), 26379)],
            service: "mymaster".into()
        }
    );
    assert!(!format!("{:?}", RedisSettings::single("redis://:pw@host:1")).contains("pw"));
}

#[test]
fn incomplete_redis_settings_name_the_variable() {
    let url = "redis://localhost:6379";
    let var_of = |pairs: &[(&str, &str)]| RedisSettings::from_env(env(pairs), url).unwrap_err().var;
    assert_eq!(var_of(&[("REDIS_MODE", "replicated")]), "REDIS_MODE");
    assert_eq!(var_of(&[("REDIS_MODE", "cluster")]), "REDIS_NODES");
    assert_eq!(
        var_of(&[
            ("REDIS_MODE", "cluster"),
            ("REDIS_NODES", "host-without-port")
        ]),
        "REDIS_NODES"
    );
    assert_eq!(
        var_of(&[("REDIS_MODE", "cluster"), ("REDIS_NODES", "a:1,,b:2")]),
        "REDIS_NODES"
    );
    assert_eq!(
        var_of(&[("REDIS_MODE", "sentinel"), ("REDIS_NODES", "s:26379")]),
        "REDIS_SENTINEL_SERVICE"
    );
}
