use std::convert::Infallible;
use std::time::Duration;

use cache::{CacheConfig, CacheTtls, Key, KeyKind};
use uuid::Uuid;

use crate::support::{
    AgentsKey, Branding, BrandingKey, BrandingKeyV2, Calls, PrincipalKey, QuotasKey, TestCache,
};

#[tokio::test]
async fn the_first_read_loads_and_stores_with_the_kinds_ttl_and_the_next_hits() {
    let t = TestCache::new().await;
    let key = BrandingKey::key(&Uuid::new_v4());
    let calls = Calls::default();
    let acme = Branding::named("Acme");

    let first = t
        .cache
        .get_or_load(&key, calls.load::<_, Infallible>(Some(acme.clone())))
        .await
        .unwrap();
    let second = t
        .cache
        .get_or_load(
            &key,
            calls.load::<_, Infallible>(Some(Branding::named("other"))),
        )
        .await
        .unwrap();

    assert_eq!(first, Some(acme.clone()));
    assert_eq!(second, Some(acme));
    assert_eq!(calls.count(), 1);
    let redis_key = t.cache.redis_key(&key);
    let pttl = t.pttl(&redis_key).await;
    assert!((290_000..=300_000).contains(&pttl), "PTTL {pttl}");
    let stats = t.cache.stats();
    assert_eq!((stats.misses, stats.hits, stats.loader_calls), (1, 1, 1));
}

#[tokio::test]
async fn a_ttl_set_in_the_environment_is_the_entrys_ttl() {
    let config =
        CacheConfig::from_env(|var| (var == "CACHE_USER_QUOTAS_TTL").then(|| "42".into())).unwrap();
    let t = TestCache::with_config(CacheConfig {
        timeout: Duration::from_secs(2),
        ..config
    })
    .await;
    let key = QuotasKey::key(&Uuid::new_v4());
    let quotas = crate::support::Quotas {
        messages_per_day: 1000,
    };

    let value = t
        .cache
        .get_or_load(&key, async { Ok::<_, Infallible>(Some(quotas.clone())) })
        .await
        .unwrap();

    assert_eq!(value, Some(quotas));
    let pttl = t.pttl(&t.cache.redis_key(&key)).await;
    assert!((40_000..=42_000).contains(&pttl), "PTTL {pttl}");
}

#[tokio::test]
async fn an_absent_row_is_remembered_for_the_negative_ttl() {
    let t = TestCache::new().await;
    let key = BrandingKey::key(&Uuid::new_v4());
    let calls = Calls::default();

    let first = t
        .cache
        .get_or_load(&key, calls.load::<Option<Branding>, Infallible>(None))
        .await
        .unwrap();
    let second = t
        .cache
        .get_or_load(
            &key,
            calls.load::<_, Infallible>(Some(Branding::named("late"))),
        )
        .await
        .unwrap();

    assert_eq!(first, None);
    assert_eq!(second, None, "the absent marker answers until it expires");
    assert_eq!(calls.count(), 1);
    let redis_key = t.cache.redis_key(&key);
    assert_eq!(t.raw_get(&redis_key).await.as_deref(), Some(&b"v1:1:-"[..]));
    let pttl = t.pttl(&redis_key).await;
    assert!((28_000..=30_000).contains(&pttl), "PTTL {pttl}");
}

#[tokio::test]
async fn an_entry_of_another_schema_or_layout_is_a_miss_and_is_replaced() {
    let t = TestCache::new().await;
    let id = Uuid::new_v4();
    let old_key = BrandingKey::key(&id);
    let new_key = BrandingKeyV2::key(&id);
    let redis_key = t.cache.redis_key(&new_key);
    assert_eq!(redis_key, t.cache.redis_key(&old_key));

    // Written by the deploy whose Branding was schema 1.
    let old = t
        .cache
        .get_or_load(&old_key, async {
            Ok::<_, Infallible>(Some(Branding::named("old")))
        })
        .await
        .unwrap();
    assert_eq!(old, Some(Branding::named("old")));

    let calls = Calls::default();
    let new = t
        .cache
        .get_or_load(
            &new_key,
            calls.load::<_, Infallible>(Some(Branding::named("new"))),
        )
        .await
        .unwrap();
    assert_eq!(new, Some(Branding::named("new")));
    assert_eq!(calls.count(), 1);
    let stored = t.raw_get(&redis_key).await.unwrap();
    assert!(
        stored.starts_with(b"v1:2:="),
        "{}",
        String::from_utf8_lossy(&stored)
    );

    // A layout this crate no longer (or not yet) writes.
    t.raw_set(&redis_key, b"v0:{\"name\":\"ancient\"}").await;
    let again = t
        .cache
        .get_or_load(
            &new_key,
            calls.load::<_, Infallible>(Some(Branding::named("newer"))),
        )
        .await
        .unwrap();
    assert_eq!(again, Some(Branding::named("newer")));
    assert_eq!(calls.count(), 2);
    assert_eq!(t.cache.stats().version_mismatches, 2);
    assert_eq!(t.cache.stats().decode_errors, 0);
}

#[tokio::test]
async fn garbage_is_a_miss_and_is_replaced() {
    let t = TestCache::new().await;
    let garbage: [&[u8]; 7] = [
        b"",
        b"\xff\xfe\x00binary",
        b"v1:",
        b"v1:x:=1",
        b"v1:1:={\"name\": truncated",
        b"v1:1:=\"a string, not a Branding\"",
        b"v1:1:?",
    ];
    let calls = Calls::default();
    for (n, bytes) in garbage.iter().enumerate() {
        let key = BrandingKey::key(&Uuid::new_v4());
        let redis_key = t.cache.redis_key(&key);
        t.raw_set(&redis_key, bytes).await;

        let value = t
            .cache
            .get_or_load(
                &key,
                calls.load::<_, Infallible>(Some(Branding::named("fresh"))),
            )
            .await
            .unwrap();

        assert_eq!(value, Some(Branding::named("fresh")), "garbage #{n}");
        assert_eq!(calls.count(), n + 1, "garbage #{n}");
        let stored = t.raw_get(&redis_key).await.unwrap();
        assert!(stored.starts_with(b"v1:1:={"), "garbage #{n} not replaced");
    }
    let stats = t.cache.stats();
    assert_eq!(stats.decode_errors, garbage.len() as u64);
    assert_eq!(stats.misses, garbage.len() as u64);
}

#[tokio::test]
async fn keys_are_the_prefix_then_name_colon_id() {
    let t = TestCache::new().await;
    let prefix = &t.cache.config().key_prefix;
    let tenant: Uuid = "8c1e2b9a-0000-4000-8000-000000000001".parse().unwrap();

    assert_eq!(
        t.cache.redis_key(&BrandingKey::key(&tenant)),
        format!("{prefix}branding:8c1e2b9a-0000-4000-8000-000000000001")
    );
    assert_eq!(
        t.cache.redis_key(&AgentsKey::key(&42)),
        format!("{prefix}session_agents:42")
    );
    assert_eq!(
        t.cache.redis_key(&PrincipalKey::key("abc123")),
        format!("{prefix}api_key_principal:abc123")
    );
    assert_eq!(
        t.cache.tenant_index_key(tenant),
        format!("{prefix}tenant_keys:8c1e2b9a-0000-4000-8000-000000000001")
    );
    let names: Vec<_> = KeyKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(
        names,
        [
            "branding",
            "stripe_settings",
            "stripe_analytics",
            "user_subscription",
            "session_agents",
            "session_teams",
            "session_roles",
            "session_inboxes",
            "user_quotas",
            "user_features",
            "api_key_principal",
        ]
    );
}

#[test]
fn tenant_keys_belong_to_their_tenant_and_others_only_when_told() {
    let tenant = Uuid::new_v4();
    let user = Uuid::new_v4();
    assert_eq!(
        BrandingKey::key(&tenant).tenant(),
        Some(tenant.to_string().as_str())
    );
    assert_eq!(QuotasKey::key(&user).tenant(), None);
    let indexed: Key<QuotasKey> = QuotasKey::key(&user).for_tenant(tenant);
    assert_eq!(indexed.tenant(), Some(tenant.to_string().as_str()));
    assert_eq!(indexed.id(), user.to_string());
}

#[test]
fn with_ttl_overrides_one_kind() {
    let ttls = CacheTtls::default().with_ttl(KeyKind::SessionRoles, Duration::from_secs(7));
    assert_eq!(ttls.ttl(KeyKind::SessionRoles), Duration::from_secs(7));
    assert_eq!(ttls.ttl(KeyKind::SessionTeams), Duration::from_secs(300));
}
